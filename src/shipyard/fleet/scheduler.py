"""The work phase of a cycle: worker slots claim tasks, planners plan and wake, until all is quiet."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from shipyard.domain import Event, Task, TaskKind, TaskStatus
from shipyard.fleet.briefing import handoff_text
from shipyard.fleet.guard import guarded
from shipyard.fleet.merger import Merger
from shipyard.fleet.planning import ROOT, plan, plan_scope, plan_task_of
from shipyard.fleet.runtime import Runtime
from shipyard.fleet.sink import PlannerSeat
from shipyard.fleet.wakes import WakeTracker
from shipyard.fleet.worker import work_on

TaskRunner = Callable[[str, Task], Coroutine[Any, Any, None]]

_POLL_S = 5.0
# Waking planners needs a scan of the whole board, O(tasks). While agents run, the scan is done at most
# once a second and takes at most a tenth of the time, so a large board does not slow dispatch down.
_WAKE_SCAN_S = 1.0
_REVOKE_SCAN_S = 1.0  # how often running agents' tasks are checked for a cancel


class WorkPhase:
    """Runs one cycle's planning and work; returns when no task is open or claimed and no planner runs."""

    def __init__(
        self,
        rt: Runtime,
        merger: Merger,
        cycle: int,
        budget_check: Callable[[], None],
        runner: TaskRunner | None = None,
        plan_root: bool = True,
    ) -> None:
        self._plan_root = plan_root
        self._rt = rt
        self._budget_check = budget_check
        self._merger = merger
        self._runner: TaskRunner = runner or (lambda slot, task: work_on(rt, merger, slot, task))
        self._cycle = cycle
        self._free = [f"worker-{i}" for i in range(rt.config.workers, 0, -1)]
        self._running: dict[asyncio.Task[None], str | None] = {}
        self._claims: dict[asyncio.Task[None], int] = {}
        self._changed = asyncio.Event()
        self._next_wake_scan = 0.0
        self._next_revoke_scan = 0.0
        earlier = (t.id for t in rt.board.tasks() if t.is_final)  # handoffs of past cycles were read
        self._wakes = WakeTracker(rt.config.fleet.planner_wakes, earlier)

    async def run(self) -> None:
        if self._plan_root:
            self._start(self._root_plan("(none: fresh start)"), slot=None, planner=ROOT)
        while True:
            self._rt.board.expire_leases(self._rt.config.fleet.max_attempts)
            self._budget_check()
            control = self._rt.control()
            if control == "stop":
                self._rt.stop.set("stopped by the person")
            self._cancel_stalled()
            self._stop_revoked()
            if self._rt.stop.is_set:
                self._cancel_all()
            elif control != "pause":
                self._claim_all()
                self._wake_planners()
            if not self._running and (control != "pause" or self._rt.stop.is_set):
                return
            await self._wait(
                min(_POLL_S, self._rt.config.fleet.stall_s / 4, self._rt.config.fleet.lease_s / 4)
            )

    def _cancel_stalled(self) -> None:
        """An agent with no event for `stall_s` is stopped; its task goes back with the reason."""
        stall_s, now = self._rt.config.fleet.stall_s, time.monotonic()
        for task, task_id in self._claims.items():
            quiet = now - self._rt.last_seen.get(task_id, now)
            if quiet > stall_s and not task.done() and task_id not in self._rt.cancel_reasons:
                reason = f"stalled: no sign of life for {quiet:.0f}s"
                self._rt.cancel_reasons[task_id] = reason
                self._rt.record(Event("AgentStalled", {"reason": reason}, task_id, self._running.get(task)))
                task.cancel()

    def _stop_revoked(self) -> None:
        """An agent whose task was cancelled (by the person or a planner) is stopped; its worktree goes
        with it and its slot takes the next task. Checked at most once a second (a task that went to
        another agent after its lease expired needs no stop: the merge refuses its commit)."""
        now = time.monotonic()
        if not self._claims or now < self._next_revoke_scan:
            return
        self._next_revoke_scan = now + _REVOKE_SCAN_S
        cancelled = {t.id for t in self._rt.board.tasks(TaskStatus.CANCELLED)}
        for task, task_id in self._claims.items():
            if task_id not in cancelled or task.done() or task_id in self._rt.cancel_reasons:
                continue
            reason = f"task #{task_id} was cancelled"
            self._rt.cancel_reasons[task_id] = reason
            self._rt.record(Event("AgentStopped", {"reason": reason}, task_id, self._running.get(task)))
            task.cancel()

    def _cancel_all(self) -> None:
        """Stop every running agent; each gives its task back to the board on the way out."""
        for task in self._running:
            task.cancel()

    def _start(
        self,
        coro: Coroutine[Any, Any, None],
        slot: str | None,
        planner: str | None = None,
        claimed: Task | None = None,
    ) -> None:
        task = asyncio.get_running_loop().create_task(guarded(self._rt, coro, slot, claimed))
        task.add_done_callback(lambda _t: coro.close())  # cancelled before it started: never awaited
        self._running[task] = slot
        if claimed is not None:
            self._claims[task] = claimed.id
            self._rt.last_seen[claimed.id] = time.monotonic()
        if planner is not None:
            self._wakes.started(planner)
            task.add_done_callback(lambda _t: self._wakes.ended(planner))

    def _claim_all(self) -> None:
        for kind in (TaskKind.PLAN, TaskKind.CODE):
            while self._free:
                slot = self._free[-1]
                task = self._rt.board.claim(slot, kind, self._rt.config.fleet.lease_s)
                if task is None:
                    break
                self._free.pop()
                if kind is TaskKind.PLAN:
                    self._start(plan_scope(self._rt, slot, task, self._changed.set), slot, claimed=task)
                else:
                    self._start(self._runner(slot, task), slot, claimed=task)

    def _wake_requested(self) -> None:
        """Planners woken out of turn (the shared branch went red under their tasks)."""
        while self._rt.wake_requests:
            planner, text = self._rt.wake_requests.pop(0)
            self._rt.record(Event("PlannerWoken", {"handoffs": [], "reason": "red"}, agent=planner))
            self._wake(planner, text)

    def _wake(self, planner: str, text: str) -> None:
        plan_id = plan_task_of(planner)
        if plan_id is None:
            self._start(self._root_plan(text), slot=None, planner=planner)
        else:
            self._start(self._sub_wake(plan_id, text), slot=None, planner=planner)

    def _wake_planners(self) -> None:
        self._wake_requested()
        started = time.monotonic()
        if self._running and started < self._next_wake_scan:
            return
        tasks = self._rt.board.tasks()
        self._next_wake_scan = started + max(_WAKE_SCAN_S, 10 * (time.monotonic() - started))
        for planner, ended in self._wakes.due(tasks):
            self._rt.record(Event("PlannerWoken", {"handoffs": [t.id for t in ended]}, agent=planner))
            self._wake(planner, handoff_text(ended))

    async def _root_plan(self, handoffs: str) -> None:
        seat = PlannerSeat(ROOT, None, 0, self._cycle)
        await plan(self._rt, seat, None, handoffs, self._changed.set)

    async def _sub_wake(self, plan_id: int, handoffs: str) -> None:
        scope = self._rt.board.get(plan_id)
        seat = PlannerSeat(f"subplanner-{plan_id}", plan_id, scope.spec.depth, self._cycle)
        await plan(self._rt, seat, scope, handoffs, self._changed.set)

    async def _wait(self, timeout_s: float) -> None:
        changed = asyncio.get_running_loop().create_task(self._changed.wait())
        done, _ = await asyncio.wait(
            [*self._running, changed], timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        changed.cancel()
        self._changed.clear()
        for task in done:
            if task is changed:
                continue
            slot = self._running.pop(task)  # type: ignore[arg-type]
            self._claims.pop(task, None)  # type: ignore[arg-type]
            if slot is not None:
                self._free.append(slot)
