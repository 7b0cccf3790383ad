"""The transition rules every board follows: pure functions from a task to its next state and events.

Both boards load a task, apply a rule and store the result with its events in one step, so the rules
(who may do what, what is counted, what is logged) live here once. Every status a task enters has its
event: `TaskClaimed`, `TaskCompleted`, `TaskFailed`, `TaskCancelled`; back to open: `TaskReleased` or
`LeaseExpired`; a new priority: `TaskReprioritised`. Renewing a lease is not logged.

Free text coming in (task specs, handoffs, reasons, event data, meta values) passes through a redactor
first, so no secret is ever stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from shipyard.domain import Event, Handoff, Task, TaskSpec, TaskStatus
from shipyard.errors import BoardError

Redact = Callable[[str], str]


@dataclass(frozen=True)
class Transition:
    """A task's next state and the events that record the change."""

    task: Task
    events: tuple[Event, ...] = ()


def clock(now: float | None) -> float:
    """`now` when given (tests pass it), else the wall clock."""
    return time.time() if now is None else now


def unknown(task_id: int) -> BoardError:
    return BoardError(f"no task {task_id} on the board")


def empty_counts() -> dict[str, int]:
    return {status.value: 0 for status in TaskStatus}


def json_data(data: dict[str, Any]) -> dict[str, Any]:
    """`data` as it comes back from JSON; fails on values JSON cannot hold, as the durable board would."""
    return json_text(data)[1]


def json_text(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`data` as JSON text, and as it comes back from that text; `BoardError` if JSON cannot hold it."""
    try:
        text = json.dumps(data)
        result: dict[str, Any] = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise BoardError(f"event data must be JSON: {exc}") from exc
    return text, result


def redact_value(value: Any, redact: Redact) -> Any:
    """`value` with every string in it (at any depth of lists and dicts) passed through `redact`."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v, redact) for v in value]
    return value


def redact_event(event: Event, redact: Redact) -> Event:
    return replace(event, data=redact_value(event.data, redact))


def redact_spec(spec: TaskSpec, redact: Redact) -> TaskSpec:
    return replace(
        spec,
        title=redact(spec.title),
        description=redact(spec.description),
        acceptance=redact(spec.acceptance),
    )


def redact_handoff(handoff: Handoff | None, redact: Redact) -> Handoff | None:
    if handoff is None:
        return None
    return Handoff(redact(handoff.summary), redact(handoff.concerns), redact(handoff.deviations))


def claim_key(task: Task) -> tuple[int, int]:
    """Claim order: highest priority first, then oldest."""
    return (-task.spec.priority, task.id)


def is_expired(task: Task, now: float) -> bool:
    return task.status is TaskStatus.CLAIMED and task.lease_expires is not None and task.lease_expires <= now


def created(task: Task, now: float) -> Event:
    spec = task.spec
    data: dict[str, Any] = {
        "title": spec.title,
        "kind": spec.kind.value,
        "priority": spec.priority,
        "planner": spec.planner,
        "parent_id": spec.parent_id,
        "depth": spec.depth,
        "cycle": spec.cycle,
    }
    return Event("TaskCreated", data, task_id=task.id, agent=spec.planner, ts=now)


def claimed(task: Task, agent: str, lease_s: float, now: float) -> Transition:
    if task.status is not TaskStatus.OPEN:
        raise BoardError(f"task {task.id} is {task.status.value}, not open; {agent} cannot claim it")
    attempts = task.attempts + 1
    expires = now + lease_s
    new = replace(
        task, status=TaskStatus.CLAIMED, attempts=attempts, lease_holder=agent, lease_expires=expires
    )
    data = {"attempt": attempts, "lease_expires": expires}
    return Transition(new, (Event("TaskClaimed", data, task_id=task.id, agent=agent, ts=now),))


def check_holder(task: Task, agent: str) -> None:
    """`BoardError` unless `agent` holds the lease on `task`."""
    if task.status is not TaskStatus.CLAIMED:
        raise BoardError(f"task {task.id} is {task.status.value}; {agent} holds no lease on it")
    if task.lease_holder != agent:
        raise BoardError(f"task {task.id} is held by {task.lease_holder}, not {agent}")


def revoked(task: Task, agent: str) -> bool:
    """True when `agent` no longer holds `task` (cancelled, expired, taken by another)."""
    return task.status is not TaskStatus.CLAIMED or task.lease_holder != agent


def renewed(task: Task, agent: str, lease_s: float, now: float) -> Transition:
    check_holder(task, agent)
    return Transition(replace(task, lease_expires=now + lease_s))


def completed(task: Task, agent: str, commits: Sequence[str], handoff: Handoff, now: float) -> Transition:
    check_holder(task, agent)
    new = replace(
        task,
        status=TaskStatus.DONE,
        lease_holder=None,
        lease_expires=None,
        commits=tuple(commits),
        handoff=handoff,
    )
    data = {"commits": list(commits), "handoff": handoff.as_dict(), "attempts": task.attempts}
    return Transition(new, (Event("TaskCompleted", data, task_id=task.id, agent=agent, ts=now),))


def released(
    task: Task, agent: str, reason: str, max_attempts: int, handoff: Handoff | None, now: float
) -> Transition:
    check_holder(task, agent)
    note = f"attempt {task.attempts} released by {agent}: {reason}"
    event = Event("TaskReleased", {"reason": reason}, task_id=task.id, agent=agent, ts=now)
    return _reopen_or_fail(task, event, note, max_attempts, handoff)


def expired(task: Task, max_attempts: int, now: float) -> Transition:
    if not is_expired(task, now):
        raise BoardError(f"task {task.id} has no expired lease")
    note = f"attempt {task.attempts}: lease of {task.lease_holder} expired"
    data = {"lease_expires": task.lease_expires}
    event = Event("LeaseExpired", data, task_id=task.id, agent=task.lease_holder, ts=now)
    return _reopen_or_fail(task, event, note, max_attempts, None)


def _reopen_or_fail(
    task: Task, event: Event, note: str, max_attempts: int, handoff: Handoff | None
) -> Transition:
    """Back to open with `note`, or failed once the attempts are used up."""
    give_up = task.attempts >= max_attempts
    status = TaskStatus.FAILED if give_up else TaskStatus.OPEN
    new = replace(
        task,
        status=status,
        lease_holder=None,
        lease_expires=None,
        notes=(*task.notes, note),
        handoff=handoff if handoff is not None else task.handoff,
    )
    events = [replace(event, data={**event.data, "status": status.value, "attempts": task.attempts})]
    if give_up:
        data = {"reason": note, "max_attempts": max_attempts}
        events.append(Event("TaskFailed", data, task_id=task.id, agent=event.agent, ts=event.ts))
    return Transition(new, tuple(events))


def failed(task: Task, reason: str, handoff: Handoff | None, now: float) -> Transition:
    _check_not_final(task, "fail")
    new = replace(
        task,
        status=TaskStatus.FAILED,
        lease_holder=None,
        lease_expires=None,
        notes=(*task.notes, f"failed: {reason}"),
        handoff=handoff if handoff is not None else task.handoff,
    )
    data = {"reason": reason, "holder": task.lease_holder}
    return Transition(new, (Event("TaskFailed", data, task_id=task.id, ts=now),))


def cancelled(task: Task, reason: str, now: float) -> Transition:
    _check_not_final(task, "cancel")
    new = replace(
        task,
        status=TaskStatus.CANCELLED,
        lease_holder=None,
        lease_expires=None,
        notes=(*task.notes, f"cancelled: {reason}"),
    )
    data = {"reason": reason, "holder": task.lease_holder}
    return Transition(new, (Event("TaskCancelled", data, task_id=task.id, ts=now),))


def reprioritised(task: Task, priority: int, now: float) -> Transition:
    _check_not_final(task, "reprioritise", "only open or claimed tasks can get a new priority")
    new = replace(task, spec=replace(task.spec, priority=priority))
    data = {"priority": priority, "previous": task.spec.priority}
    return Transition(new, (Event("TaskReprioritised", data, task_id=task.id, ts=now),))


def _check_not_final(
    task: Task, action: str, hint: str = "only open or claimed tasks can fail or be cancelled"
) -> None:
    if task.is_final:
        raise BoardError(f"cannot {action} task {task.id}: it is already {task.status.value}; {hint}")
