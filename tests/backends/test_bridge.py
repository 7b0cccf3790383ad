"""The role-tool bridge: a strict schema per role, and a final answer turned into the role's tool calls."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from backend_fakes import RecordingSink

from shipyard.agent import AgentLimits, AgentRun, ToolResult, role_tools
from shipyard.backends.bridge import Bridge
from shipyard.domain import Role


class Seen:
    """An observer that records the tool calls it is told about."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], ToolResult]] = []

    def model_called(self, run: AgentRun, step: int, response: object) -> None:
        raise AssertionError("the bridge reports tool calls only")

    def tool_called(
        self, run: AgentRun, step: int, name: str, args: dict[str, Any], result: ToolResult
    ) -> None:
        self.calls.append((name, args, result))


def _run(role: Role, sink: RecordingSink | None = None, can_delegate: bool = True) -> AgentRun:
    return AgentRun(role, "agent", "system", "prompt", role_tools(role, sink, can_delegate), AgentLimits())


def _task(title: str) -> dict[str, Any]:
    return {"title": title, "description": "d", "acceptance": "a", "scope": ["x.py"], "priority": 0}


def test_every_schema_is_strict() -> None:
    for role in Role:
        schema = Bridge.of(_run(role, RecordingSink())).schema()
        objects = [schema, *(p["items"] for p in schema["properties"].values() if p["type"] == "array")]
        for obj in objects:
            assert obj["additionalProperties"] is False
            assert sorted(obj["required"]) == sorted(obj["properties"])


def test_the_schema_follows_the_role_tools() -> None:
    assert set(Bridge.of(_run(Role.WORKER)).schema()["properties"]) == {"summary", "concerns", "deviations"}
    assert set(Bridge.of(_run(Role.JUDGE)).schema()["properties"]) == {"decision", "notes"}
    planner = Bridge.of(_run(Role.PLANNER, RecordingSink())).schema()["properties"]
    assert set(planner) == {"summary", "create_task", "delegate"}
    deepest = Bridge.of(_run(Role.SUBPLANNER, RecordingSink(), can_delegate=False)).schema()["properties"]
    assert set(deepest) == {"summary", "create_task"}
    assert "`create_task`: a list" in Bridge.of(_run(Role.PLANNER, RecordingSink())).instructions()


def test_a_planner_answer_writes_its_tasks_through_the_sink_in_order() -> None:
    sink, seen = RecordingSink(limit=2), Seen()
    run = _run(Role.PLANNER, sink)
    answer = {
        "summary": "three tasks, one too many",
        "create_task": [_task("a"), {"title": "no acceptance"}, _task("b"), _task("c")],
        "delegate": [{"title": "area", "description": "d", "scope": ["lib/"], "priority": 1}],
    }
    result = asyncio.run(Bridge.of(run).apply(answer, run, seen, step=3))
    assert result.finish == {"summary": "three tasks, one too many"}
    assert sink.tasks == [("a", ["x.py"]), ("b", ["x.py"])] and sink.delegated == ["area"]
    outcomes = [(name, r.is_error) for name, _args, r in seen.calls]
    assert outcomes == [
        ("create_task", False),
        ("create_task", True),  # missing arguments: refused, reported, the rest goes on
        ("create_task", False),
        ("create_task", True),  # the sink's limit
        ("delegate", False),
        ("finish", False),
    ]
    assert "task limit reached" in seen.calls[3][2].text


@pytest.mark.parametrize(
    ("role", "answer", "finish"),
    [
        (Role.WORKER, {"summary": "did it", "concerns": "", "deviations": ""}, True),
        (Role.WORKER, {"summary": "", "concerns": "", "deviations": ""}, False),
        (Role.JUDGE, {"decision": "stop", "notes": "done"}, True),
        (Role.JUDGE, {"decision": "maybe", "notes": ""}, False),
    ],
)
def test_the_closing_tool_decides_whether_the_run_finished(
    role: Role, answer: dict[str, Any], finish: bool
) -> None:
    run = _run(role)
    result = asyncio.run(Bridge.of(run).apply(answer, run, None, step=1))
    assert (result.finish is not None) is finish
