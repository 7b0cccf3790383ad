"""The judge ends a cycle: it reads objective signals (the check, the board) and gives a verdict."""

from __future__ import annotations

from shipyard.agent import StopReason
from shipyard.domain import Decision, Event, Role, Verdict
from shipyard.fleet.briefing import VERDICT_META, board_summary, handoff_text, read_notes, verdict_text
from shipyard.fleet.health import CheckResult
from shipyard.fleet.runtime import Runtime
from shipyard.fleet.session import Session, run_session, snapshot


def _check_text(rt: Runtime, check: CheckResult | None) -> str:
    if not rt.config.check:
        return "(no check command configured)"
    return check.describe() if check is not None else "(the check has not run)"


async def judge(rt: Runtime, cycle: int, check: CheckResult | None) -> Verdict:
    """Run the judge on the shared branch's tip and record its verdict."""
    name = f"judge-{cycle}"
    cycle_tasks = [t for t in rt.board.tasks() if t.spec.cycle == cycle]
    variables = {
        "goal": rt.config.goal,
        "board": board_summary(rt.board.tasks()),
        "check_result": _check_text(rt, check),
        "check_command": rt.config.check or "(none configured)",
        "handoffs": handoff_text(t for t in cycle_tasks if t.is_final),
    }
    async with snapshot(rt, name) as tree:
        variables["notes"] = read_notes(tree)
        outcome = await run_session(rt, Session(Role.JUDGE, "judge", tree, variables))
    verdict = _verdict_of(outcome.finish, outcome.stop_reason)
    data = {"cycle": cycle, "decision": verdict.decision.value, "notes": verdict.notes}
    rt.record(Event("VerdictGiven", data, agent="judge"))
    rt.board.set_meta(VERDICT_META, verdict_text(cycle, verdict))  # the next cycle's planners read it
    return verdict


def _verdict_of(finish: dict[str, object] | None, reason: StopReason) -> Verdict:
    if finish is None:
        return Verdict(Decision.CONTINUE, f"the judge stopped without a verdict ({reason.value})")
    decision = Decision.STOP if finish.get("decision") == Decision.STOP.value else Decision.CONTINUE
    return Verdict(decision, str(finish.get("notes", "")))
