"""Planner sessions: the root planner, sub-planners on delegated scopes, and their wake-ups."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from shipyard.agent import StopReason
from shipyard.domain import Event, Handoff, Role, Task
from shipyard.fleet.briefing import NO_VERDICT, VERDICT_META, board_summary, read_notes
from shipyard.fleet.runtime import Runtime
from shipyard.fleet.session import Session, run_session, snapshot
from shipyard.fleet.sink import BoardSink, PlannerSeat
from shipyard.fleet.worker import handoff_of

ROOT = "planner"
SUB_PREFIX = "subplanner-"
_serial = itertools.count(1)


def subplanner_name(plan_task_id: int) -> str:
    return f"{SUB_PREFIX}{plan_task_id}"


def plan_task_of(planner: str) -> int | None:
    """The plan task a sub-planner serves, or None for the root planner."""
    return int(planner.removeprefix(SUB_PREFIX)) if planner.startswith(SUB_PREFIX) else None


def _variables(
    rt: Runtime, seat: PlannerSeat, scope: Task | None, handoffs: str, notes: str
) -> dict[str, str]:
    scope_text = "(the whole goal)"
    if scope is not None:
        scope_text = f"{scope.title}\n{scope.spec.description}\npaths: {', '.join(scope.spec.scope) or 'any'}"
    return {
        "goal": rt.config.goal,
        "notes": notes,
        "scope": scope_text,
        "board": board_summary(rt.board.tasks()),
        "handoffs": handoffs,
        "steering": rt.board.get_meta("steering") or "(none)",
        "verdict": rt.board.get_meta(VERDICT_META) or NO_VERDICT,
        "check_command": rt.config.check or "(none configured)",
        "max_tasks": str(rt.config.fleet.max_tasks_per_planner),
    }


async def plan(
    rt: Runtime, seat: PlannerSeat, scope: Task | None, handoffs: str, on_created: Callable[[], None]
) -> bool:
    """Run one planner session; True when the planner finished (rather than hitting a limit)."""
    role = Role.PLANNER if scope is None else Role.SUBPLANNER
    sink = BoardSink(rt, seat, on_created)
    async with snapshot(rt, f"{seat.name}-{next(_serial)}") as tree:
        variables = _variables(rt, seat, scope, handoffs, read_notes(tree))
        can_delegate = seat.depth < rt.config.fleet.max_depth
        session = Session(role, seat.name, tree, variables, seat.plan_task_id, sink, can_delegate)
        outcome = await run_session(rt, session)
    data = {
        "created": sink.created,
        "stop_reason": outcome.stop_reason.value,
        "summary": handoff_of(outcome).summary,
        "cycle": seat.cycle,
    }
    rt.record(Event("PlannerFinished", data, seat.plan_task_id, seat.name))
    return outcome.stop_reason is StopReason.FINISHED


async def plan_scope(rt: Runtime, agent: str, task: Task, on_created: Callable[[], None]) -> None:
    """A claimed plan task: a sub-planner writes tasks for its scope; the plan task is then done."""
    seat = PlannerSeat(subplanner_name(task.id), task.id, task.spec.depth, task.spec.cycle)
    finished = await plan(rt, seat, task, "(none yet)", on_created)
    if finished:
        rt.board.complete(task.id, agent, [], _plan_handoff(rt, seat.name))
    else:
        reason = "sub-planner stopped before finishing"
        rt.board.release(task.id, agent, reason, rt.config.fleet.max_attempts)


def _plan_handoff(rt: Runtime, name: str) -> Handoff:
    created = [t for t in rt.board.tasks() if t.spec.planner == name]
    return Handoff(
        summary=f"planned {len(created)} tasks: " + "; ".join(f"#{t.id} {t.title}" for t in created)
    )
