"""`BoardSink`: what a planner's `create_task` and `delegate` calls write to the board."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shipyard.domain import Event, TaskKind, TaskSpec
from shipyard.errors import BoardError, ToolError
from shipyard.fleet.runtime import Runtime
from shipyard.fleet.scope import check_disjoint, check_within, normal, overlaps


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
        self._scopes: dict[int, list[str]] = {}  # of the code tasks written here, to spot overlaps

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

    def cancel_task(self, task_id: int, reason: str) -> str:
        """Cancel one of this planner's own tasks; the fleet then stops its agent (see `scheduler`)."""
        try:
            task = self._rt.board.get(task_id)
        except BoardError as exc:
            raise ToolError(str(exc)) from None
        if task.spec.planner != self._seat.name:
            raise ToolError(f"task #{task_id} was written by {task.spec.planner}, not you; leave it")
        if task.is_final:
            raise ToolError(f"task #{task_id} is already {task.status.value}; nothing to cancel")
        self._rt.board.cancel(task_id, f"cancelled by {self._seat.name}: {reason}")
        self._on_created()  # the scheduler looks again now
        return f"cancelled task #{task_id}: its worker (if any) is stopped and nothing of it is merged"

    def _check_scope(self, kind: TaskKind, scope: list[str]) -> None:
        """Within the area handed to this sub-planner; a delegation apart from this planner's others."""
        if self._seat.plan_task_id is not None:
            area = self._rt.board.get(self._seat.plan_task_id).spec.scope
            if area:
                check_within(scope, area)
        if kind is TaskKind.PLAN:
            mine = (t for t in self._rt.board.tasks() if t.spec.planner == self._seat.name)
            check_disjoint(scope, (t for t in mine if t.spec.cycle == self._seat.cycle))

    def _note_overlap(self, task_id: int, scope: list[str]) -> None:
        """Tasks of one planner that share files will meet at the merge: logged (`TasksOverlap`), and
        the merger's holds then serialise them."""
        paths = [normal(p) for p in scope]
        clash = {
            other: sorted({p for p in paths for q in theirs if overlaps(p, q)})
            for other, theirs in self._scopes.items()
        }
        clash = {other: found for other, found in clash.items() if found}
        self._scopes[task_id] = paths
        if clash:
            data = {"with": sorted(clash), "paths": sorted({p for f in clash.values() for p in f})}
            self._rt.record(Event("TasksOverlap", data, task_id, self._seat.name))

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
        if kind is TaskKind.CODE:
            self._note_overlap(task.id, scope)
        self._on_created()
        return task.id
