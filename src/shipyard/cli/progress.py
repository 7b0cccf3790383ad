"""Live progress in the terminal: reads new events from the board and prints the ones a person cares about."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from shipyard.board.base import Board
from shipyard.domain import Event


def describe(event: Event) -> str | None:
    """A short line for an event worth showing, or None."""
    d, who = event.data, event.agent or ""
    task = f"#{event.task_id}" if event.task_id is not None else ""
    lines: dict[str, Callable[[], str]] = {
        "CycleStarted": lambda: f"cycle {d.get('cycle')} started",
        "TaskCreated": lambda: f"{who or 'planner'} wrote {task} {d.get('title', '')}".strip(),
        "TaskClaimed": lambda: f"{who} took {task}",
        "CommitMerged": lambda: f"{who} merged {task} as {str(d.get('sha', ''))[:10]}",
        "MergeConflicted": lambda: f"{who} hit a merge conflict on {task}: {', '.join(d.get('files', []))}",
        "TaskReleased": lambda: f"{task} returned to the board: {d.get('reason', '')}",
        "TaskFailed": lambda: f"{task} failed: {d.get('reason', '')}",
        "LeaseExpired": lambda: f"{task} lease expired; back on the board",
        "CheckRan": lambda: (
            f"check on {str(d.get('sha', ''))[:10]}: {'passed' if d.get('passed') else 'FAILED'}"
        ),
        "PlannerWoken": lambda: f"{who} woken with {len(d.get('handoffs', []))} handoffs",
        "VerdictGiven": lambda: f"judge: {d.get('decision')} ({d.get('notes', '')})",
        "RunFinished": lambda: f"run {d.get('state')}: {d.get('reason', '')}",
    }
    make = lines.get(event.kind)
    return make() if make else None


class ProgressPrinter:
    """Polls the event log and prints lines; the board stays the single source of truth."""

    def __init__(self, board: Board, emit: Callable[[str], None], interval_s: float = 0.2) -> None:
        self._board = board
        self._emit = emit
        self._interval_s = interval_s
        self._since = 0
        self._t0 = time.monotonic()

    def drain(self) -> None:
        for event in self._board.events(since=self._since):
            self._since = event.id
            line = describe(event)
            if line:
                self._emit(f"[{time.monotonic() - self._t0:6.1f}s] {line}")

    async def follow(self) -> None:
        """Print until cancelled."""
        while True:
            self.drain()
            await asyncio.sleep(self._interval_s)

    def skip_existing(self) -> None:
        """Start after the events already in the log (a second run on the same board)."""
        existing = self._board.events()
        self._since = existing[-1].id if existing else 0
