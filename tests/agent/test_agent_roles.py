"""Role tools: task creation and delegation through the sink, finish payloads, the judge's verdict."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from shipyard.agent import Tool, ToolResult, role_tools, workspace_tools
from shipyard.domain import Role


class ListSink:
    """A `TaskSink` that keeps what it is given."""

    def __init__(self) -> None:
        self.created: list[tuple[str, str, str, list[str], int]] = []
        self.delegated: list[tuple[str, str, list[str], int]] = []

    def create_task(
        self, title: str, description: str, acceptance: str, scope: list[str], priority: int
    ) -> int:
        self.created.append((title, description, acceptance, scope, priority))
        return 40 + len(self.created)

    def delegate(self, title: str, description: str, scope: list[str], priority: int) -> int:
        self.delegated.append((title, description, scope, priority))
        return 90 + len(self.delegated)

    def cancel_task(self, task_id: int, reason: str) -> str:
        return f"cancelled #{task_id}: {reason}"


def tools(role: Role, sink: ListSink | None = None, can_delegate: bool = True) -> dict[str, Tool]:
    return {tool.spec.name: tool for tool in role_tools(role, sink, can_delegate)}


def run(tool: Tool, **args: Any) -> ToolResult:
    return asyncio.run(tool.run(args))


def test_role_tool_sets() -> None:
    sink = ListSink()
    assert list(tools(Role.PLANNER, sink)) == ["create_task", "delegate", "cancel_task", "finish"]
    assert list(tools(Role.SUBPLANNER, sink, can_delegate=False)) == ["create_task", "cancel_task", "finish"]
    assert list(tools(Role.WORKER)) == ["finish"]
    assert list(tools(Role.JUDGE)) == ["verdict"]
    with pytest.raises(ValueError, match="task sink"):
        role_tools(Role.PLANNER, None, True)


def test_workspace_tools() -> None:
    names = [tool.spec.name for tool in workspace_tools(Path("."), 60.0)]
    assert names == ["read_file", "write_file", "edit_file", "list_dir", "grep", "shell"]


def test_create_task_goes_to_the_sink() -> None:
    sink = ListSink()
    create = tools(Role.PLANNER, sink)["create_task"]
    result = run(create, title="Add parser", description="in p.py", acceptance="tests pass", scope=["p.py"])
    assert result == ToolResult("created task #41")
    run(create, title="Two", description="", acceptance="ok", scope=[], priority=5)
    assert sink.created == [("Add parser", "in p.py", "tests pass", ["p.py"], 0), ("Two", "", "ok", [], 5)]
    empty = run(create, title=" ", description="", acceptance="ok", scope=[])
    assert empty.is_error and len(sink.created) == 2


def test_delegate_needs_a_scope() -> None:
    sink = ListSink()
    delegate = tools(Role.PLANNER, sink)["delegate"]
    result = run(delegate, title="Frontend", description="all of ui/", scope=["ui/"], priority=2)
    assert result.text == "delegated `Frontend` to a sub-planner as task #91"
    assert sink.delegated == [("Frontend", "all of ui/", ["ui/"], 2)]
    assert run(delegate, title="Nothing", description="", scope=[]).is_error


def test_worker_finish_payload() -> None:
    finish = tools(Role.WORKER)["finish"]
    result = run(finish, summary="did it", deviations="renamed x")
    assert result.finish == {"summary": "did it", "concerns": "", "deviations": "renamed x"}
    assert run(finish, summary="  ").is_error


def test_planner_finish_payload() -> None:
    assert run(tools(Role.PLANNER, ListSink())["finish"], summary="3 tasks").finish == {"summary": "3 tasks"}


def test_verdict() -> None:
    verdict = tools(Role.JUDGE)["verdict"]
    assert run(verdict, decision="stop", notes="met").finish == {"decision": "stop", "notes": "met"}
    assert run(verdict, decision="continue").finish == {"decision": "continue", "notes": ""}
    bad = run(verdict, decision="maybe")
    assert bad.is_error and bad.finish is None and "`continue` or `stop`" in bad.text
