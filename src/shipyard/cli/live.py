"""The run's running totals, for the bottom line of the terminal while events scroll above it.

Folded from the event log like every other view: tasks done of all, agents busy, merges and conflicts,
tokens and dollars, the prompt-cache hit rate when the providers report it, and the shared branch's
health (red with its culprit and fix while a red spell lasts).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.text import Text

from shipyard.board.base import Board
from shipyard.domain import Event
from shipyard.report.fold import RunFold
from shipyard.report.problems import ago

_STALL_S = 180.0


class LiveSummary:
    """Feed it every event once, in order; `render` gives the current line."""

    def __init__(self, board: Board) -> None:
        self._board = board
        self._fold = RunFold()
        self._input_tokens = 0
        self._cached_tokens: int | None = None  # None until a provider reports its cache reads

    def feed(self, events: Iterable[Event]) -> None:
        events = list(events)
        self._fold.feed(events)
        for e in events:
            if e.kind != "ModelCalled":
                continue
            self._input_tokens += int(e.data.get("input_tokens", 0))
            if "cache_read_tokens" in e.data:
                self._cached_tokens = (self._cached_tokens or 0) + int(e.data["cache_read_tokens"])

    def render(self, now: float | None = None) -> Text:
        at = time.time() if now is None else now
        fold, counts = self._fold, self._board.counts()
        total = sum(n for status, n in counts.items() if status != "cancelled")
        busy = sum(1 for a in fold.agents.views(at, _STALL_S) if a["state"] != "idle")
        line = Text()
        line.append_text(self._branch(at))  # first: it must show on the narrowest terminal
        line.append(f" | tasks {counts['done']}/{total} done", style="bold")
        if counts["failed"]:
            line.append(f" ({counts['failed']} failed)", style="red")
        line.append(f" | {busy} busy | merged {fold.merged} | conflicts {fold.conflicts}")
        line.append(f" | {_tokens(fold.tokens)} tokens ${fold.cost_usd:.2f}")
        if self._cached_tokens is not None and self._input_tokens:
            line.append(f" | cache {self._cached_tokens / self._input_tokens:.0%}")
        return line

    def _branch(self, now: float) -> Text:
        health = self._fold.health
        spells = health.spells
        if spells.red:
            spell = spells.spells[-1]
            text = f"branch RED {ago(now - spell['since'])}"
            if spell["culprit_task"] is not None:
                text += f", culprit #{spell['culprit_task']}"
            if spell["fixes"]:
                text += f", fix {', '.join(f'#{i}' for i in spell['fixes'])}"
            return Text(text, style="bold red")
        if health.last is None:
            return Text("branch not checked yet", style="dim")
        if health.last.get("passed"):
            return Text("branch green", style="green")
        return Text("branch red", style="bold red")


def _tokens(n: int) -> str:
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)
