"""Scope holds: a sub-planner's tasks stay inside its area; one planner's delegations do not overlap."""

from __future__ import annotations

import pytest

from fleet_helpers import FleetFactory
from shipyard.domain import TaskKind, TaskSpec
from shipyard.errors import ToolError
from shipyard.fleet.scope import check_within, normal, overlaps
from shipyard.fleet.sink import BoardSink, PlannerSeat


def test_paths_compare_as_folders_holding_what_is_under_them() -> None:
    assert normal("./src/parser/") == "src/parser"
    assert overlaps("src/parser", "src/parser/lex.py") and overlaps("src", "src/parser")
    assert not overlaps("src/parser", "src/parser2") and not overlaps("docs", "src")
    with pytest.raises(ToolError, match="leaves the repository"):
        normal("src/../../etc")
    check_within(["src/parser/lex.py", "./src/parser"], ["src/parser/"])


def test_a_subplanner_writes_tasks_only_inside_its_area(fleet: FleetFactory) -> None:
    rt = fleet({})
    area = rt.board.add_task(TaskSpec("parser", scope=("src/parser",), kind=TaskKind.PLAN, depth=1))
    sink = BoardSink(rt, PlannerSeat(f"subplanner-{area.id}", area.id, 1, 1), lambda: None)
    assert sink.create_task("lexer", "d", "a", ["src/parser/lex.py"], 0) == 2
    with pytest.raises(ToolError, match=r"src/cli.py is outside your area \(src/parser\)"):
        sink.create_task("cli", "d", "a", ["src/parser/lex.py", "src/cli.py"], 0)
    with pytest.raises(ToolError, match="give a `scope`"):
        sink.create_task("anywhere", "d", "a", [], 0)
    with pytest.raises(ToolError, match="outside your area"):
        sink.delegate("wider", "d", ["src"], 0)
    assert [t.title for t in rt.board.tasks()] == ["parser", "lexer"]


def test_overlapping_delegations_by_one_planner_are_refused(fleet: FleetFactory) -> None:
    rt = fleet({})
    sink = BoardSink(rt, PlannerSeat("planner", None, 0, 1), lambda: None)
    assert sink.delegate("parser", "d", ["src/parser"], 0) == 1
    with pytest.raises(ToolError, match=r"overlaps your delegation #1 \(parser: src/parser\)"):
        sink.delegate("lexer", "d", ["src/parser/lex"], 0)
    with pytest.raises(ToolError, match="overlaps"):
        sink.delegate("all", "d", ["src"], 0)
    assert sink.delegate("cli", "d", ["src/cli"], 0) == 2
    rt.board.cancel(1, "replanned")
    assert sink.delegate("parser again", "d", ["src/parser"], 0) == 3  # a cancelled one holds nothing


def test_a_planner_cancels_only_its_own_unfinished_tasks(fleet: FleetFactory) -> None:
    rt = fleet({})
    mine = BoardSink(rt, PlannerSeat("planner", None, 0, 1), lambda: None)
    first = mine.create_task("one", "d", "a", ["a.txt"], 0)
    other = rt.board.add_task(TaskSpec("theirs", planner="subplanner-9")).id
    assert "stopped" in mine.cancel_task(first, "not needed")
    cancelled = rt.board.get(first)
    assert cancelled.status.value == "cancelled" and "cancelled by planner: not needed" in cancelled.notes[-1]
    with pytest.raises(ToolError, match="already cancelled"):
        mine.cancel_task(first, "again")
    with pytest.raises(ToolError, match="written by subplanner-9, not you"):
        mine.cancel_task(other, "mine now")
    with pytest.raises(ToolError, match="no task 99"):
        mine.cancel_task(99, "gone")
