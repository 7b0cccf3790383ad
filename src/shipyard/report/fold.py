"""`RunFold`: the event log folded, one event at a time, into what status, dashboard and report show.

Feeding only new events keeps a live view cheap; feeding the whole log rebuilds it from scratch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from shipyard.domain import Event
from shipyard.report.agents import AgentTracker
from shipyard.report.cache import CacheFold
from shipyard.report.spells import KINDS as SPELL_KINDS
from shipyard.report.spells import RedSpells

_SETBACKS = ("TaskReleased", "LeaseExpired", "AgentCrashed", "AgentStalled")
_FINAL = ("TaskCompleted", "TaskFailed", "TaskCancelled")


@dataclass
class TaskFigures:
    """What one task cost and how long it took."""

    tokens: int = 0
    cost_usd: float = 0.0
    first_claim: float | None = None
    ended: float | None = None
    setbacks: int = 0
    last_setback: str = ""
    kept_attempts: list[int] = field(default_factory=list)  # attempts whose work is kept on a ref


@dataclass
class Health:
    """The shared branch's checks: the last result and when it was last green."""

    checks: int = 0
    failures: int = 0
    last: dict[str, Any] | None = None
    last_green_at: float | None = None
    spells: RedSpells = field(default_factory=RedSpells)

    def view(self, now: float, since: float | None) -> dict[str, Any]:
        red = self.last is not None and not self.last.get("passed")
        since_green = None
        if red:
            since_green = now - (self.last_green_at or since or now)
        elif self.last is not None:
            since_green = 0.0
        return {
            "checks": self.checks,
            "failures": self.failures,
            "last_check": self.last,
            "green": None if self.last is None else not red,
            "last_green_at": self.last_green_at,
            "since_green_s": None if since_green is None else round(since_green, 1),
            **self.spells.view(now),
        }


@dataclass
class RunFold:
    """Running figures of one board's event log."""

    last_id: int = 0
    events: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    merged: int = 0
    conflicts: int = 0
    started_at: float | None = None
    budget: dict[str, float] = field(default_factory=dict)
    checkout_behind: str = ""
    authors: set[str] = field(default_factory=set)
    by_role: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[int, TaskFigures] = field(default_factory=dict)
    health: Health = field(default_factory=Health)
    crashes: list[Event] = field(default_factory=list)
    agents: AgentTracker = field(default_factory=AgentTracker)
    cache: CacheFold = field(default_factory=CacheFold)

    def feed(self, events: Iterable[Event]) -> RunFold:
        """Fold `events` (newer than `last_id`, in order) in; returns self."""
        for event in events:
            if event.id and event.id <= self.last_id:
                continue
            self.last_id = max(self.last_id, event.id)
            self.events += 1
            self.agents.apply(event)
            handler = self._handler(event.kind)
            if handler is not None:
                handler(event)
        return self

    def task(self, task_id: int | None) -> TaskFigures | None:
        if task_id is None:
            return None
        return self.tasks.setdefault(task_id, TaskFigures())

    def _handler(self, kind: str) -> Callable[[Event], None] | None:
        if kind in _SETBACKS:
            return self._setback
        if kind in _FINAL:
            return self._ended
        if kind in SPELL_KINDS:
            return self.health.spells.apply
        handlers: dict[str, Callable[[Event], None]] = {
            "ModelCalled": self._model,
            "TaskClaimed": self._claimed,
            "CommitMerged": self._merged,
            "MergeConflicted": self._conflicted,
            "CheckRan": self._checked,
            "AttemptKept": self._kept,
            "RunStarted": self._run_started,
            "CheckoutBehind": lambda e: setattr(self, "checkout_behind", str(e.data.get("reason", ""))),
        }
        return handlers.get(kind)

    def _model(self, e: Event) -> None:
        tokens = int(e.data.get("input_tokens", 0)) + int(e.data.get("output_tokens", 0))
        cost = float(e.data.get("cost_usd", 0.0))
        self.tokens += tokens
        self.cost_usd += cost
        row = self.by_role.setdefault(str(e.data.get("role")), {"tokens": 0, "cost_usd": 0.0})
        row["tokens"] += tokens
        row["cost_usd"] += cost
        self.cache.add(str(e.data.get("role")), e.agent or "?", e.data)
        figures = self.task(e.task_id)
        if figures is not None:
            figures.tokens += tokens
            figures.cost_usd += cost

    def _claimed(self, e: Event) -> None:
        figures = self.task(e.task_id)
        if figures is not None and figures.first_claim is None:
            figures.first_claim = e.ts

    def _kept(self, e: Event) -> None:
        figures = self.task(e.task_id)
        if figures is not None:
            figures.kept_attempts.append(int(e.data.get("attempt", 0)))

    def _ended(self, e: Event) -> None:
        figures = self.task(e.task_id)
        if figures is not None:
            figures.ended = e.ts

    def _setback(self, e: Event) -> None:
        if e.kind == "AgentCrashed":
            self.crashes.append(e)
        figures = self.task(e.task_id)
        if figures is None:
            return
        if e.kind in ("TaskReleased", "LeaseExpired"):
            figures.setbacks += 1
        figures.last_setback = str(e.data.get("reason") or e.data.get("error") or e.kind)[:300]

    def _merged(self, e: Event) -> None:
        self.merged += 1
        self.health.spells.merged()
        self.checkout_behind = ""
        if e.agent:
            self.authors.add(e.agent)

    def _conflicted(self, e: Event) -> None:
        self.conflicts += 1

    def _checked(self, e: Event) -> None:
        h, passed = self.health, bool(e.data.get("passed"))
        h.checks += 1
        h.failures += 0 if passed else 1
        keep = ("sha", "passed", "exit_code", "duration_s")
        h.last = {**{k: e.data.get(k) for k in keep}, "at": e.ts}
        if passed:
            h.last_green_at = e.ts

    def _run_started(self, e: Event) -> None:
        """The run's start, and its budgets if the fleet logs them (`budget`: usd, tokens, wall_time_s)."""
        self.started_at = e.ts
        budget = e.data.get("budget")
        if isinstance(budget, dict):
            self.budget = {k: float(v) for k, v in budget.items() if isinstance(v, int | float)}
