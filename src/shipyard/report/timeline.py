"""Time series of a run for the report's plots, and its table of tasks; pure functions of board data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shipyard.domain import Event, Task
from shipyard.report.fold import RunFold


@dataclass
class Timeline:
    """When things happened, in seconds since the run started."""

    start: float = 0.0
    end: float = 0.0
    done: list[float] = field(default_factory=list)
    merged: list[float] = field(default_factory=list)
    conflicts: list[float] = field(default_factory=list)
    checks: list[tuple[float, bool]] = field(default_factory=list)

    @property
    def span_s(self) -> float:
        return max(self.end - self.start, 0.0)


def timeline(events: Sequence[Event]) -> Timeline:
    """The series the plots draw, from the whole event log."""
    if not events:
        return Timeline()
    starts = [e.ts for e in events if e.kind == "RunStarted"]
    t0 = starts[0] if starts else events[0].ts
    line = Timeline(start=t0, end=events[-1].ts)
    series = {"TaskCompleted": line.done, "CommitMerged": line.merged, "MergeConflicted": line.conflicts}
    for e in events:
        if e.kind in series:
            series[e.kind].append(e.ts - t0)
        elif e.kind == "CheckRan":
            line.checks.append((e.ts - t0, bool(e.data.get("passed"))))
    return line


def task_rows(tasks: Iterable[Task], fold: RunFold, now: float) -> list[dict[str, Any]]:
    """One row a task: outcome, attempts, time from first claim to its end, tokens and cost."""
    rows = []
    for t in tasks:
        figures = fold.tasks.get(t.id)
        took = None
        if figures is not None and figures.first_claim is not None:
            took = (figures.ended if t.is_final and figures.ended else now) - figures.first_claim
        rows.append(
            {
                "id": t.id,
                "title": t.title,
                "kind": t.spec.kind.value,
                "outcome": t.status.value,
                "attempts": t.attempts,
                "time_s": None if took is None else round(took, 1),
                "tokens": figures.tokens if figures else 0,
                "cost_usd": round(figures.cost_usd, 6) if figures else 0.0,
                "planner": t.spec.planner,
                "note": t.notes[-1] if t.notes else "",
                "kept_attempts": list(figures.kept_attempts) if figures else [],
            }
        )
    return rows


def unattributed(fold: RunFold) -> tuple[int, float]:
    """Tokens and cost spent outside any task (the root planner, the judge)."""
    tokens = fold.tokens - sum(f.tokens for f in fold.tasks.values())
    cost = fold.cost_usd - sum(f.cost_usd for f in fold.tasks.values())
    return tokens, round(max(cost, 0.0), 6)
