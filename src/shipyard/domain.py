"""Plain typed data shared by every part: roles, tasks, handoffs, verdicts, events. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    PLANNER = "planner"
    SUBPLANNER = "subplanner"
    WORKER = "worker"
    JUDGE = "judge"


class TaskStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATUSES = frozenset({TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED})


class TaskKind(StrEnum):
    """`code` tasks are taken by workers; `plan` tasks hand a scope to a sub-planner."""

    CODE = "code"
    PLAN = "plan"


class Decision(StrEnum):
    CONTINUE = "continue"
    STOP = "stop"


@dataclass(frozen=True)
class Handoff:
    """What an agent reports back to the planner that wrote its task."""

    summary: str
    concerns: str = ""
    deviations: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"summary": self.summary, "concerns": self.concerns, "deviations": self.deviations}


@dataclass(frozen=True)
class TaskSpec:
    """A task as a planner writes it, before the board gives it an id."""

    title: str
    description: str = ""
    acceptance: str = ""
    scope: tuple[str, ...] = ()
    priority: int = 0
    kind: TaskKind = TaskKind.CODE
    planner: str = "planner"
    parent_id: int | None = None
    depth: int = 0
    cycle: int = 1


@dataclass(frozen=True)
class Task:
    """A task on the board."""

    id: int
    spec: TaskSpec
    status: TaskStatus = TaskStatus.OPEN
    attempts: int = 0
    lease_holder: str | None = None
    lease_expires: float | None = None
    handoff: Handoff | None = None
    commits: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    notes: str = ""


@dataclass(frozen=True)
class Event:
    """One entry of the append-only event log. `kind` is a past-tense name such as `TaskClaimed`."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    task_id: int | None = None
    agent: str | None = None
    id: int = 0
    ts: float = 0.0
