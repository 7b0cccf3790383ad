"""The cycle loop: plan and work, check, judge, then a fresh start, until done or a limit is reached."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from shipyard.domain import Decision, Event, Verdict
from shipyard.errors import ShipyardError
from shipyard.fleet import settings
from shipyard.fleet.budget import BudgetedModel, over_budget
from shipyard.fleet.chaos import TaskRunner, dying_runner, killer
from shipyard.fleet.executor import Executor, LocalExecutor
from shipyard.fleet.health import CheckResult, HealthMonitor
from shipyard.fleet.judge import judge
from shipyard.fleet.merger import Merger
from shipyard.fleet.recovery import sweep_worktrees
from shipyard.fleet.repair import MAX_FIXES, Repair
from shipyard.fleet.runtime import Runtime
from shipyard.fleet.scheduler import WorkPhase


@dataclass(frozen=True)
class RunResult:
    state: str
    reason: str
    cycles: int
    duration_s: float


class Fleet:
    """Runs cycles on one repository until the judge says done, a limit is hit, or the person stops it."""

    def __init__(self, rt: Runtime, executor: Executor | None = None) -> None:
        self._rt = rt
        self._repair = Repair(rt, lambda task, agent, commit: self._merger.land(task, agent, commit))
        self._health = HealthMonitor(rt, self._repair.on_check)
        self._merger = Merger(rt, self._health.request)
        rt.guard_model = lambda role, model: BudgetedModel(model, rt, role)
        self._runner: TaskRunner = (executor or LocalExecutor()).runner(rt, self._merger)
        chaos = rt.config.chaos
        if chaos.worker_death_rate:
            self._runner = dying_runner(rt, self._runner, chaos)
        if chaos.kill_rate:
            rt.progress = killer(chaos)

    async def run(self, resume: bool = False) -> RunResult:
        """Run cycles; with `resume`, continue the cycle that was under way (after `reconcile`)."""
        rt, started = self._rt, time.monotonic()
        done_cycles = int(rt.board.get_meta("cycle") or 0)
        first = max(done_cycles, 1) if resume else done_cycles + 1
        last = int(rt.board.get_meta("last_cycle") or 0) if resume else 0
        last = last or first + rt.config.max_cycles - 1
        rt.board.set_meta("last_cycle", str(last))
        rt.board.set_meta("state", "running")
        rt.board.set_meta("reason", "")
        rt.board.set_meta("control", "")  # a `stop` or `pause` from before this start is spent
        settings.save(rt.board, rt.config)  # `resume` continues with these
        kind = "RunResumed" if resume else "RunStarted"
        budget = rt.config.budget
        data = {
            "goal": rt.config.goal,
            "workers": rt.config.workers,
            "cycle": first,
            "budget": {"usd": budget.usd, "tokens": budget.tokens, "wall_time_s": budget.wall_time_s},
        }
        rt.record(Event(kind, data))
        state, reason, cycle = "stopped", f"reached max_cycles ({rt.config.max_cycles})", first
        for cycle in range(first, last + 1):
            decided = await self._cycle(cycle, resume and cycle == first)
            if decided is not None:
                state, reason = decided
                break
        if rt.stop.fatal:
            state, reason = "failed", rt.stop.reason
        rt.board.set_meta("state", state)
        rt.board.set_meta("reason", reason)
        rt.record(Event("RunFinished", {"state": state, "reason": reason, "cycles": cycle}))
        return RunResult(state, reason, cycle, time.monotonic() - started)

    async def _cycle(self, cycle: int, resumed: bool) -> tuple[str, str] | None:
        """One cycle; returns (state, reason) when the run should end."""
        rt = self._rt
        rt.board.set_meta("cycle", str(cycle))
        planned = resumed and any(t.spec.cycle == cycle for t in rt.board.tasks())
        if not resumed:
            rt.record(Event("CycleStarted", {"cycle": cycle}))
        check = await self._work(cycle, plan_root=not planned)
        if rt.stop.is_set:
            return "stopped", rt.stop.reason
        try:
            verdict = await judge(rt, cycle, check)
        except ShipyardError as exc:  # e.g. git failed making its worktree: decide again next cycle
            verdict = Verdict(Decision.CONTINUE, f"the judge could not run: {exc}")
            rt.record(Event("JudgeFailed", {"cycle": cycle, "error": str(exc)}))
        rt.record(Event("CycleEnded", {"cycle": cycle, "decision": verdict.decision.value}))
        await asyncio.to_thread(sweep_worktrees, rt)
        if verdict.decision is Decision.STOP:
            if _green(rt, check):
                return "done", f"the judge said done: {verdict.notes}"
            rt.record(
                Event("VerdictOverruled", {"cycle": cycle, "reason": "the check fails on the shared branch"})
            )
        budget = over_budget(rt)
        return ("stopped", budget) if budget else None

    async def _work(self, cycle: int, plan_root: bool) -> CheckResult | None:
        """The cycle's work, then the check of the tip; while the branch is red and a fix is on the
        board, the work goes on (a few rounds at most) before the judge is asked."""
        rt = self._rt
        await WorkPhase(rt, self._merger, cycle, self._budget_check, self._runner, plan_root=plan_root).run()
        check = await self._settle()
        for _ in range(MAX_FIXES):
            if not self._repair.pending() or rt.stop.is_set:
                break
            await WorkPhase(rt, self._merger, cycle, self._budget_check, self._runner, plan_root=False).run()
            check = await self._settle()
        return check

    async def _settle(self) -> CheckResult | None:
        check = await self._health.settle()
        await self._repair.settle()
        return check

    def _budget_check(self) -> None:
        reason = over_budget(self._rt)
        if reason:
            self._rt.stop.set(reason)


def _green(rt: Runtime, check: CheckResult | None) -> bool:
    """Done needs a passing check (when one is configured), not just the judge's word."""
    return not rt.config.check or (check is not None and check.passed)
