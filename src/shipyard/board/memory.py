"""`InMemoryBoard`: the board in memory, following the same rules as `SqliteBoard`, for tests and dry runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from shipyard.board import rules
from shipyard.board.base import Completion, Landed
from shipyard.board.rules import Redact, Transition
from shipyard.board.transitions import Transitions
from shipyard.domain import Event, Task, TaskKind, TaskSpec, TaskStatus
from shipyard.redact import Redactor


class InMemoryBoard(Transitions):
    """A thread-safe board held in memory; nothing survives the process."""

    def __init__(self, redact: Redact | None = None) -> None:
        self._redact: Redact = redact or Redactor()
        self._lock = threading.Lock()
        self._tasks: dict[int, Task] = {}
        self._events: list[Event] = []
        self._meta: dict[str, str] = {}

    def add_task(self, spec: TaskSpec) -> Task:
        spec = rules.redact_spec(spec, self._redact)
        with self._lock:
            task = Task(id=len(self._tasks) + 1, spec=spec)
            self._tasks[task.id] = task
            self._record([rules.created(task, time.time())])
            return task

    def get(self, task_id: int) -> Task:
        with self._lock:
            return self._load(task_id)

    def tasks(self, status: TaskStatus | None = None) -> list[Task]:
        with self._lock:
            return [t for t in self._tasks.values() if status is None or t.status is status]

    def claim(self, agent: str, kind: TaskKind, lease_s: float, now: float | None = None) -> Task | None:
        at = rules.clock(now)
        with self._lock:
            candidates = [
                t for t in self._tasks.values() if t.status is TaskStatus.OPEN and t.spec.kind is kind
            ]
            if not candidates:
                return None
            return self._store(rules.claimed(min(candidates, key=rules.claim_key), agent, lease_s, at))

    def land(
        self, completions: Sequence[Completion], swap: Callable[[], bool], events: Sequence[Event] = ()
    ) -> Landed:
        events = [rules.redact_event(e, self._redact) for e in events]
        said = [rules.redact_handoff(c.handoff, self._redact) or c.handoff for c in completions]
        with self._lock:
            tasks = [self._load(c.task_id) for c in completions]
            gone = tuple(t.id for t, c in zip(tasks, completions, strict=True) if rules.revoked(t, c.agent))
            if gone or not swap():
                return Landed(refused=gone)
            at = time.time()
            logged = self._record(events)
            for task, c, handoff in zip(tasks, completions, said, strict=True):
                transition = rules.completed(task, c.agent, c.commits, handoff, at)
                self._store(transition)
                logged += transition.events
            return Landed(events=tuple(logged))

    def expire_leases(self, max_attempts: int, now: float | None = None) -> list[Task]:
        at = rules.clock(now)
        with self._lock:
            stale = [t for t in self._tasks.values() if rules.is_expired(t, at)]
            return [self._store(rules.expired(t, max_attempts, at)) for t in stale]

    def append(self, event: Event) -> Event:
        event = rules.redact_event(event, self._redact)
        with self._lock:
            stored = self._record([event])[0]
        return replace(stored, data=rules.json_data(stored.data))

    def events(self, since: int = 0, limit: int | None = None) -> list[Event]:
        with self._lock:
            newer = [e for e in self._events if e.id > since]
        return [replace(e, data=rules.json_data(e.data)) for e in newer[:limit]]

    def counts(self) -> dict[str, int]:
        counts = rules.empty_counts()
        with self._lock:
            for task in self._tasks.values():
                counts[task.status.value] += 1
        return counts

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            return self._meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        value = self._redact(value)
        with self._lock:
            self._meta[key] = value

    def close(self) -> None:
        """Nothing to release; kept for the protocol."""

    def _load(self, task_id: int) -> Task:
        task = self._tasks.get(task_id)
        if task is None:
            raise rules.unknown(task_id)
        return task

    def _apply(self, task_id: int, rule: Callable[[Task], Transition]) -> Task:
        with self._lock:
            return self._store(rule(self._load(task_id)))

    def _store(self, transition: Transition) -> Task:
        """Store the task's new state and its events; the caller holds the lock."""
        self._record(transition.events)
        self._tasks[transition.task.id] = transition.task
        return transition.task

    def _record(self, events: Sequence[Event]) -> list[Event]:
        stored = [
            replace(e, id=len(self._events) + i + 1, ts=e.ts or time.time(), data=rules.json_data(e.data))
            for i, e in enumerate(events)
        ]
        self._events.extend(stored)
        return stored
