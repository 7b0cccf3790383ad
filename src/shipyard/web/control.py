"""Steering a run: guidance for the planners, pause, unpause, stop, cancel and reprioritise tasks.

The CLI and the dashboard both call these; each change writes board meta the fleet reads and logs an event.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from shipyard.board.base import Board
from shipyard.domain import Event, Task
from shipyard.errors import BoardError, UserError

KEEP_MESSAGES = 5
MAX_MESSAGE_CHARS = 4000
_CONTROL = {
    "pause": ("pause", "RunPaused"),
    "unpause": ("", "RunUnpaused"),
    "stop": ("stop", "StopRequested"),
}


def steer(board: Board, message: str, source: str = "cli") -> Event:
    """Add guidance the planners read on their next turn (meta `steering`: the last few messages)."""
    text = " ".join(message.split())
    if not text:
        raise UserError("the steering message is empty; write what the planners should know or do")
    if len(text) > MAX_MESSAGE_CHARS:
        raise UserError(f"the steering message has {len(text)} characters; keep it under {MAX_MESSAGE_CHARS}")
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    kept = [line for line in (board.get_meta("steering") or "").splitlines() if line.startswith("- [")]
    event = board.append(Event("SteeringAdded", {"message": text, "source": source}, agent="person"))
    stored = event.data.get("message", "")  # as the board stored it: secrets masked
    lines = [*kept, f"- [{stamp} UTC] {stored}"][-KEEP_MESSAGES:]
    board.set_meta("steering", "\n".join(lines))
    return event


def control(board: Board, action: str, source: str = "cli") -> Event:
    """Pause (stop claiming new tasks), unpause, or stop the run gracefully."""
    if action not in _CONTROL:
        raise UserError(f"unknown run control `{action}`; expected one of {', '.join(_CONTROL)}")
    value, kind = _CONTROL[action]
    board.set_meta("control", value)
    return board.append(Event(kind, {"control": value, "source": source}, agent="person"))


def cancel_task(board: Board, task_id: int, reason: str = "") -> Task:
    """Cancel a task that is not final; its worker's lease ends with it."""
    why = reason.strip() or "cancelled by the person"
    return _on_task(lambda: board.cancel(task_id, why))


def set_priority(board: Board, task_id: int, priority: int) -> Task:
    """A new priority for an open or claimed task: higher is claimed first."""
    return _on_task(lambda: board.set_priority(task_id, priority))


def _on_task(change: Callable[[], Task]) -> Task:
    """Run a board change on one task; a refusal becomes a user error with the board's reason."""
    try:
        return change()
    except BoardError as exc:
        raise UserError(str(exc)) from None
