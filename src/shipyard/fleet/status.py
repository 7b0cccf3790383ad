"""The run's status, derived from the board and its event log (folded by `shipyard.report.fold`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from shipyard.board.base import Board
from shipyard.domain import Task
from shipyard.report.fold import RunFold
from shipyard.report.problems import BudgetLimits, budget_use, find_problems

STALL_S = 180.0  # an agent busy but silent this long is shown as stalled


def run_status(
    board: Board, budget: BudgetLimits | None = None, now: float | None = None, stall_s: float = STALL_S
) -> dict[str, Any]:
    """One JSON-ready object: state, tasks, merges, cycles, tokens, cost, health, problems."""
    fold = RunFold().feed(board.events())
    return status_of(board, fold, StatusOptions(budget, stall_s), now)


@dataclass(frozen=True)
class StatusOptions:
    """What the event log does not hold: the budgets to measure against and when an agent is stalled."""

    budget: BudgetLimits | None = None
    stall_s: float = STALL_S


def status_of(
    board: Board, fold: RunFold, options: StatusOptions, now: float | None = None
) -> dict[str, Any]:
    """The status object from a fold that is up to date with the board's log."""
    at = time.time() if now is None else now
    tasks = board.tasks()
    control = board.get_meta("control") or ""
    agents = fold.agents.views(at, options.stall_s)
    budget = budget_use(fold, options.budget or _logged_budget(fold), at)
    last = fold.health.last
    return {
        "state": board.get_meta("state") or "new",
        "reason": board.get_meta("reason") or "",
        "tasks": board.counts(),
        "merged_commits": fold.merged,
        "conflicts": fold.conflicts,
        "cycles": int(board.get_meta("cycle") or 0),
        "tokens": fold.tokens,
        "cost_usd": round(fold.cost_usd, 6),
        "by_role": {k: {**v, "cost_usd": round(v["cost_usd"], 6)} for k, v in fold.by_role.items()},
        "cache": fold.cache.view(),
        "authors": sorted(fold.authors),
        "last_check": None if last is None else {"sha": last.get("sha"), "passed": last.get("passed")},
        "events": fold.events,
        "last_event_id": fold.last_id,
        "started_at": fold.started_at,
        "control": control,
        "steering": board.get_meta("steering") or "",
        "health": fold.health.view(at, fold.started_at),
        "by_task": _by_task(fold, tasks),
        "budget": budget,
        "problems": find_problems(fold, tasks, agents, budget, control, at),
    }


def agent_views(fold: RunFold, options: StatusOptions, now: float | None = None) -> list[dict[str, Any]]:
    """The agents, for the dashboard's `/api/state`."""
    return fold.agents.views(time.time() if now is None else now, options.stall_s)


def _logged_budget(fold: RunFold) -> BudgetLimits | None:
    """The budgets the run logged at its start, if it did."""
    if not fold.budget:
        return None
    b = fold.budget
    return BudgetLimits(b.get("usd", 0.0), int(b.get("tokens", 0)), b.get("wall_time_s", 0.0))


def _by_task(fold: RunFold, tasks: list[Task]) -> list[dict[str, Any]]:
    """Tokens and cost per task, most expensive first."""
    rows = []
    for t in tasks:
        figures = fold.tasks.get(t.id)
        if figures is None or not figures.tokens:
            continue
        row = {"task_id": t.id, "title": t.title, "status": t.status.value, "tokens": figures.tokens}
        rows.append({**row, "cost_usd": round(figures.cost_usd, 6)})
    return sorted(rows, key=lambda r: (-r["cost_usd"], -r["tokens"], r["task_id"]))
