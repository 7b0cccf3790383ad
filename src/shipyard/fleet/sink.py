"""`BoardSink`: what a planner's `create_task` and `delegate` calls write to the board."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shipyard.domain import TaskKind, TaskSpec
from shipyard.errors import ToolError
from shipyard.fleet.runtime import Runtime
from shipyard.fleet.scope import check_disjoint, check_within


@dataclass(frozen=True)
class PlannerSeat:
    """Who is planning: the planner's name, the plan task it serves (None for the root) and its depth."""

    name: str
    plan_task_id: int | None
    depth: int
    cycle: int


class BoardSink:
    """Implements the agent's `TaskSink` on the board, within the planner's task budget."""

    def __init__(self, rt: Runtime, seat: PlannerSeat, on_created: Callable[[], None]) -> None:
        self._rt = rt
        self._seat = seat
        self._on_created = on_created
        self.created: list[int] = []

    def create_task(
        self, title: str, description: str, acceptance: str, scope: list[str], priority: int
    ) -> int:
        return self._add(TaskKind.CODE, title, description, acceptance, scope, priority, self._seat.depth)

    def delegate(self, title: str, description: str, scope: list[str], priority: int) -> int:
        if self._seat.depth + 1 > self._rt.config.fleet.max_depth:
            raise ToolError(
                f"delegation depth limit {self._rt.config.fleet.max_depth} reached; use create_task"
            )
        return self._add(TaskKind.PLAN, title, description, "", scope, priority, self._seat.depth + 1)

    def _check_scope(self, kind: TaskKind, scope: list[str]) -> None:
        """Within the area handed to this sub-planner; a delegation apart from this planner's others."""
        if self._seat.plan_task_id is not None:
            area = self._rt.board.get(self._seat.plan_task_id).spec.scope
            if area:
                check_within(scope, area)
        if kind is TaskKind.PLAN:
            mine = (t for t in self._rt.board.tasks() if t.spec.planner == self._seat.name)
            check_disjoint(scope, (t for t in mine if t.spec.cycle == self._seat.cycle))

    def _add(
        self,
        kind: TaskKind,
        title: str,
        description: str,
        acceptance: str,
        scope: list[str],
        priority: int,
        depth: int,
    ) -> int:
        limit = self._rt.config.fleet.max_tasks_per_planner
        if len(self.created) >= limit:
            raise ToolError(f"this planner already wrote {limit} tasks (the limit); call finish")
        if not title.strip():
            raise ToolError("a task needs a non-empty title")
        self._check_scope(kind, scope)
        spec = TaskSpec(
            title=title.strip(),
            description=description,
            acceptance=acceptance,
            scope=tuple(scope),
            priority=priority,
            kind=kind,
            planner=self._seat.name,
            parent_id=self._seat.plan_task_id,
            depth=depth,
            cycle=self._seat.cycle,
        )
        task = self._rt.board.add_task(spec)
        self.created.append(task.id)
        self._on_created()
        return task.id
