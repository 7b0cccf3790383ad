"""`LiveState`: the dashboard's view of one board, kept up to date by folding only the new events."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from shipyard.board.base import Board
from shipyard.domain import Event, Task
from shipyard.fleet.ledger import TRANSCRIPT_KINDS
from shipyard.fleet.status import StatusOptions, agent_views, status_of
from shipyard.report.describe import describe
from shipyard.report.fold import RunFold, TaskFigures

_PAGE = 1000
_RECENT = 200
_TRANSCRIPT_IDS = 2000


def event_json(event: Event, clip: int | None = None) -> dict[str, Any]:
    """An event as the API sends it, with its one-line description; `clip` shortens long strings."""
    data = event.data if clip is None else _clipped(event.data, clip)
    return {
        "id": event.id,
        "kind": event.kind,
        "ts": event.ts,
        "task_id": event.task_id,
        "agent": event.agent,
        "data": data,
        "text": describe(event),
    }


def _clipped(value: Any, clip: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= clip else value[:clip] + "…"
    if isinstance(value, dict):
        return {k: _clipped(v, clip) for k, v in value.items()}
    if isinstance(value, list):
        return [_clipped(v, clip) for v in value[:50]]
    return value


class LiveState:
    """Thread-safe: the web server's threads call it; every read first folds what is new in the log."""

    def __init__(self, board: Board, options: StatusOptions) -> None:
        self.board = board
        self._options = options
        self._lock = threading.Lock()
        self._fold = RunFold()
        self._recent: deque[Event] = deque(maxlen=_RECENT)
        self._transcripts: dict[str, deque[int]] = {}

    def refresh(self) -> None:
        """Fold the events added since the last call."""
        with self._lock:
            while batch := self.board.events(since=self._fold.last_id, limit=_PAGE):
                self._fold.feed(batch)
                for event in batch:
                    self._index(event)

    def _index(self, event: Event) -> None:
        if event.kind in TRANSCRIPT_KINDS:
            ids = self._transcripts.setdefault(event.agent or "?", deque(maxlen=_TRANSCRIPT_IDS))
            ids.append(event.id)
        else:
            self._recent.append(event)

    def state(self) -> dict[str, Any]:
        """`status --json`'s object plus the agents and the time it was made."""
        self.refresh()
        now = time.time()
        with self._lock:
            data = status_of(self.board, self._fold, self._options, now)
            data["agents"] = agent_views(self._fold, self._options, now)
        data["generated_at"] = now
        return data

    def recent(self) -> list[dict[str, Any]]:
        """The latest events other than transcripts (merges, conflicts, checks, steering...)."""
        self.refresh()
        with self._lock:
            return [event_json(e) for e in self._recent]

    def tasks(self) -> list[dict[str, Any]]:
        self.refresh()
        with self._lock:
            figures = dict(self._fold.tasks)
        return [_task_json(t, figures.get(t.id)) for t in self.board.tasks()]

    def transcript(self, agent: str, limit: int) -> list[dict[str, Any]]:
        """The agent's latest transcript events, oldest first."""
        self.refresh()
        with self._lock:
            ids = list(self._transcripts.get(agent, ()))[-limit:]
        out = []
        for event_id in ids:
            found = self.board.events(since=event_id - 1, limit=1)
            if found and found[0].id == event_id:
                out.append(event_json(found[0]))
        return out


def _task_json(task: Task, figures: TaskFigures | None) -> dict[str, Any]:
    spec = task.spec
    return {
        "id": task.id,
        "title": task.title,
        "status": task.status.value,
        "kind": spec.kind.value,
        "priority": spec.priority,
        "attempts": task.attempts,
        "planner": spec.planner,
        "holder": task.lease_holder,
        "tokens": figures.tokens if figures else 0,
        "cost_usd": round(figures.cost_usd, 6) if figures else 0.0,
        "kept_attempts": list(figures.kept_attempts) if figures else [],
    }
