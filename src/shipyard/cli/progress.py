"""The terminal's views: live progress lines while a run goes, and `shipyard status` as readable tables."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from shipyard.board.base import Board
from shipyard.cli.live import LiveSummary
from shipyard.cli.nodes import node_line
from shipyard.report.describe import describe
from shipyard.report.problems import ago

__all__ = ["ProgressPrinter", "describe", "status_view"]

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_STATE_STYLE = {"done": "bold green", "running": "bold cyan", "failed": "bold red", "stopped": "yellow"}


class ProgressPrinter:
    """Polls the event log and prints lines; the board stays the single source of truth.

    On a terminal (`console` given and interactive) the running totals stay at the bottom while the
    lines scroll above them; otherwise they are printed as a plain line every `summary_every_s`.
    """

    def __init__(
        self,
        board: Board,
        emit: Callable[[str], None],
        interval_s: float = 0.2,
        console: Console | None = None,
        summary_every_s: float = 30.0,
    ) -> None:
        self._board = board
        self._emit = emit
        self._interval_s = interval_s
        self._since = 0
        self._t0 = time.monotonic()
        self._console = console if console is not None and console.is_terminal else None
        self.summary = LiveSummary(board)
        self._summary_every_s = summary_every_s
        self._next_summary = self._t0 + summary_every_s

    def drain(self) -> None:
        events = self._board.events(since=self._since)
        self.summary.feed(events)
        for event in events:
            self._since = event.id
            line = describe(event)
            if line:
                self._emit(f"[{time.monotonic() - self._t0:6.1f}s] {line}")
        if self._console is None and time.monotonic() >= self._next_summary:
            self._next_summary = time.monotonic() + self._summary_every_s
            self._emit(f"[{time.monotonic() - self._t0:6.1f}s] summary: {self.summary.render().plain}")

    async def follow(self) -> None:
        """Print until cancelled (under a live summary on a terminal)."""
        if self._console is None:
            while True:
                self.drain()
                await asyncio.sleep(self._interval_s)
        with Live(self.summary.render(), console=self._console, refresh_per_second=4) as live:
            try:
                while True:
                    self.drain()
                    live.update(self.summary.render())
                    await asyncio.sleep(self._interval_s)
            finally:
                self.drain()
                live.update(self.summary.render())

    def skip_existing(self) -> None:
        """Start after the events already in the log (a second run on the same board), counting them."""
        existing = self._board.events()
        self.summary.feed(existing)
        self._since = existing[-1].id if existing else 0


def status_view(data: dict[str, Any]) -> RenderableType:
    """`shipyard status` for a person: the state, problems first, then tasks, the branch and the cost."""
    state = Text(f"{data['state']}", style=_STATE_STYLE.get(data["state"], "bold"))
    head = Text.assemble("run: ", state, f"  {data['reason']}  cycle {data['cycles']}")
    if data.get("control"):
        head.append(f"  [{data['control']}]", style="yellow")
    parts: list[RenderableType] = [head, *_problem_lines(data.get("problems", []))]
    parts += [_overview(data), _cost_table(data)]
    return Group(*parts)


def _problem_lines(problems: list[dict[str, Any]]) -> list[RenderableType]:
    if not problems:
        return [Text("problems: none", style="green")]
    return [Text(f"! {p['text']}", style=_SEVERITY_STYLE.get(p["severity"], "")) for p in problems]


def _overview(data: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("tasks", ", ".join(f"{n} {status}" for status, n in data["tasks"].items()))
    authors = ", ".join(data["authors"]) or "none yet"
    table.add_row("merged", f"{data['merged_commits']} commits by {authors}; {data['conflicts']} conflicts")
    table.add_row("branch", _health_line(data.get("health") or {}))
    table.add_row("spent", f"{data['tokens']:,} tokens, ${data['cost_usd']:.4f}")
    for name, row in (data.get("budget") or {}).items():
        table.add_row(f"budget {name}", f"{row['fraction']:.0%} of {row['limit']:g}")
    kept = data.get("attempts") or {}
    if kept.get("kept_attempts"):
        size = f"{kept['kept_bytes'] / 1e6:.1f} MB"
        table.add_row("kept", f"{kept['kept_attempts']} attempts ({size} only they hold; `shipyard clean`)")
    for address, node in (data.get("nodes") or {}).items():
        table.add_row(f"node {address}", node_line(node))
    table.add_row("events", str(data["events"]))
    return table


def _health_line(health: dict[str, Any]) -> str:
    last = health.get("last_check")
    if not last:
        return "not checked yet"
    verdict = "green" if last.get("passed") else f"RED (exit {last.get('exit_code')})"
    line = f"{verdict} at {str(last.get('sha') or '')[:10]}; {health.get('checks', 0)} checks"
    if not last.get("passed") and health.get("since_green_s") is not None:
        line += f"; last green {ago(health['since_green_s'])} ago"
    return line


def _cost_table(data: dict[str, Any]) -> Table:
    table = Table(title="tokens and cost", title_justify="left")
    for name in ("role / task", "tokens", "cost"):
        table.add_column(name, justify="left" if name == "role / task" else "right")
    for role, row in data["by_role"].items():
        table.add_row(role, f"{row['tokens']:,}", f"${row['cost_usd']:.4f}")
    table.add_section()
    for row in data.get("by_task", [])[:8]:
        title = f"#{row['task_id']} {row['title']}"
        table.add_row(title[:60], f"{row['tokens']:,}", f"${row['cost_usd']:.4f}", style="dim")
    return table
