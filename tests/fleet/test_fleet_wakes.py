"""Planner wake-ups: a planner wakes once everything under it has ended, with the handoffs it has not seen."""

from __future__ import annotations

from shipyard.domain import Task, TaskKind, TaskSpec, TaskStatus
from shipyard.fleet.wakes import WakeTracker


def _task(tid: int, planner: str, status: TaskStatus, kind: TaskKind = TaskKind.CODE) -> Task:
    return Task(id=tid, spec=TaskSpec(title=f"t{tid}", planner=planner, kind=kind), status=status)


def test_root_wakes_only_when_its_whole_subtree_ended() -> None:
    tracker = WakeTracker(max_wakes=2)
    tasks = [
        _task(1, "planner", TaskStatus.DONE),
        _task(2, "planner", TaskStatus.DONE, TaskKind.PLAN),
        _task(3, "subplanner-2", TaskStatus.CLAIMED),
    ]
    due = tracker.due(tasks)
    assert [p for p, _ in due] == []  # the sub-planner's task #3 still runs, so neither planner wakes
    tasks[2] = _task(3, "subplanner-2", TaskStatus.DONE)
    due = dict(tracker.due(tasks))
    assert sorted(due) == ["planner", "subplanner-2"]
    assert [t.id for t in due["planner"]] == [1, 2]
    assert [t.id for t in due["subplanner-2"]] == [3]
    assert tracker.due(tasks) == []  # handoffs are delivered once


def test_a_running_planner_is_not_woken_and_wakes_are_capped() -> None:
    tracker = WakeTracker(max_wakes=1)
    tracker.started("planner")
    assert tracker.due([_task(1, "planner", TaskStatus.FAILED)]) == []
    tracker.ended("planner")
    assert [p for p, _ in tracker.due([_task(1, "planner", TaskStatus.FAILED)])] == ["planner"]
    assert tracker.due([_task(1, "planner", TaskStatus.FAILED), _task(2, "planner", TaskStatus.DONE)]) == []


def test_tasks_seen_before_the_phase_do_not_wake_anyone() -> None:
    tracker = WakeTracker(max_wakes=3, seen=[1])
    assert tracker.due([_task(1, "planner", TaskStatus.DONE)]) == []
