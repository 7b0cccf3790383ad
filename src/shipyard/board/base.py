"""The `Board` protocol: durable tasks with leases, and the append-only event log.

Every state change appends its event in the same transaction. Claiming is atomic and done here, in code;
agents never lock anything. Free text is redacted on the way in (see `rules`): no secret is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from shipyard.domain import Event, Handoff, Task, TaskKind, TaskSpec, TaskStatus


@dataclass(frozen=True)
class Completion:
    """A claimed task that ends with its merge: the agent holding it, the merged commits, its handoff."""

    task_id: int
    agent: str
    commits: tuple[str, ...]
    handoff: Handoff


@dataclass(frozen=True)
class Landed:
    """What `Board.land` did: the tasks it refused (no longer held; then nothing ran), or the events it
    logged (the `events` passed in, then a `TaskCompleted` each)."""

    refused: tuple[int, ...] = ()
    events: tuple[Event, ...] = ()


class Board(Protocol):
    def add_task(self, spec: TaskSpec) -> Task:
        """Create an open task; appends `TaskCreated`."""
        ...

    def get(self, task_id: int) -> Task:
        """The task, or `BoardError` naming the unknown id."""
        ...

    def tasks(self, status: TaskStatus | None = None) -> list[Task]:
        """Tasks in id order, optionally only those with `status`."""
        ...

    def claim(self, agent: str, kind: TaskKind, lease_s: float, now: float | None = None) -> Task | None:
        """Atomically take the open task of `kind` with the highest priority (then lowest id).

        Sets status claimed, lease holder and expiry, counts an attempt; appends `TaskClaimed`.
        Returns None when no open task of that kind exists.
        """
        ...

    def heartbeat(self, task_id: int, agent: str, lease_s: float, now: float | None = None) -> None:
        """Renew the lease; `BoardError` if `agent` no longer holds it."""
        ...

    def complete(self, task_id: int, agent: str, commits: Sequence[str], handoff: Handoff) -> Task:
        """Mark done with the merged commits; `BoardError` if `agent` does not hold the lease."""
        ...

    def land(
        self, completions: Sequence[Completion], swap: Callable[[], bool], events: Sequence[Event] = ()
    ) -> Landed:
        """Complete tasks together with the move of the shared branch, in one transaction.

        Refuses (runs nothing) when a task is no longer claimed by its agent (cancelled, expired).
        Otherwise runs `swap`; when it returns True, appends `events` and completes every task.
        A cancel therefore comes either before the merge (which is then refused) or too late.
        """
        ...

    def release(
        self, task_id: int, agent: str, reason: str, max_attempts: int, handoff: Handoff | None = None
    ) -> Task:
        """Give a claimed task back: open again, or failed when attempts reached `max_attempts`."""
        ...

    def fail(self, task_id: int, reason: str, handoff: Handoff | None = None) -> Task:
        """Mark a task failed for good, whoever holds it."""
        ...

    def cancel(self, task_id: int, reason: str) -> Task:
        """Cancel a task that is not final."""
        ...

    def set_priority(self, task_id: int, priority: int) -> Task:
        """Give a task that is not final a new priority (claim order); appends `TaskReprioritised`."""
        ...

    def expire_leases(self, max_attempts: int, now: float | None = None) -> list[Task]:
        """Return every claimed task whose lease has expired to the board (or fail it).

        Appends `LeaseExpired` for each.
        """
        ...

    def append(self, event: Event) -> Event:
        """Append an event; returns it with its id and timestamp."""
        ...

    def events(self, since: int = 0, limit: int | None = None) -> list[Event]:
        """Events with id greater than `since`, in order."""
        ...

    def counts(self) -> dict[str, int]:
        """Number of tasks by status, every status present (zero when none)."""
        ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def close(self) -> None: ...
