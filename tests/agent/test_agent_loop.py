"""The tool-calling loop with the scripted model: a full run, every limit, and the agent's mistakes."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from shipyard.agent import (
    AgentLimits,
    AgentOutcome,
    AgentRun,
    StopReason,
    Tool,
    role_tools,
    run_agent,
    workspace_tools,
)
from shipyard.agent import context as agent_context
from shipyard.agent.loop import NUDGE
from shipyard.domain import Role
from shipyard.models.base import ModelRequest, ModelResponse, ToolCall, Usage
from shipyard.models.scripted import ScriptedModel, call, turn


def make_run(
    tools: tuple[Tool, ...], limits: AgentLimits | None = None, role: Role = Role.WORKER
) -> AgentRun:
    return AgentRun(role, "w1", "You are a worker.", "Do the task.", tools, limits or AgentLimits())


def play(model: Any, run: AgentRun, observer: Any = None) -> AgentOutcome:
    return asyncio.run(run_agent(model, run, observer))


def worker_tools(root: Path) -> tuple[Tool, ...]:
    return (*workspace_tools(root, 10.0), *role_tools(Role.WORKER, None, False))


def test_full_run_writes_edits_runs_and_finishes(tmp_path: Path, recorder: Any) -> None:
    model = ScriptedModel(
        recorded={
            Role.WORKER: [
                turn(call("write_file", path="pkg/hello.py", content="print('hello')\n")),
                turn(call("edit_file", path="pkg/hello.py", old="hello", new="bye")),
                turn(call("shell", command="python3 pkg/hello.py")),
                turn(call("finish", summary="prints bye", concerns="none"), tokens=(50, 5)),
            ]
        }
    )
    outcome = play(model, make_run(worker_tools(tmp_path)), recorder)
    model.assert_done()
    assert outcome == AgentOutcome(
        StopReason.FINISHED,
        {"summary": "prints bye", "concerns": "none", "deviations": ""},
        Usage(350, 65),
        0.0,
        4,
    )
    assert (tmp_path / "pkg/hello.py").read_text() == "print('bye')\n"
    assert [step for step, _ in recorder.models] == [1, 2, 3, 4]
    assert [name for _, name, _, _ in recorder.tools] == ["write_file", "edit_file", "shell", "finish"]
    shell_result = recorder.tools[2][3]
    assert shell_result.text == "exit code 0\nbye"
    last = model.calls[3]
    assert last.role is Role.WORKER and last.agent == "w1"
    assert [m.role for m in last.messages] == ["system", "user"] + ["assistant", "tool"] * 3
    assert last.messages[-1].tool_call_id == "call_shell"
    assert {t.name for t in last.tools} >= {"read_file", "shell", "finish"}


def test_max_steps(echo: Tool) -> None:
    model = ScriptedModel(programs={Role.WORKER: lambda _: turn(call("echo", text="again"))})
    outcome = play(model, make_run((echo,), AgentLimits(max_steps=3)))
    assert outcome.stop_reason is StopReason.MAX_STEPS
    assert outcome.steps == 3 and len(model.calls) == 3
    assert outcome.usage == Usage(300, 60)


def test_max_tokens_stops_before_the_next_call(echo: Tool) -> None:
    model = ScriptedModel(programs={Role.WORKER: lambda _: turn(call("echo", text="x"), tokens=(100, 20))})
    outcome = play(model, make_run((echo,), AgentLimits(max_tokens=250)))
    assert outcome.stop_reason is StopReason.MAX_TOKENS
    assert outcome.steps == 3 and outcome.usage.total == 360


def test_wall_time_stops_a_slow_tool(slow: Tool) -> None:
    model = ScriptedModel(recorded={Role.WORKER: [turn(call("slow"))]})
    started = time.monotonic()
    outcome = play(model, make_run((slow,), AgentLimits(wall_time_s=0.2)))
    assert outcome.stop_reason is StopReason.WALL_TIME
    assert outcome.steps == 1
    assert time.monotonic() - started < 1.0


class SlowModel:
    name = "slow"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        await asyncio.sleep(30)
        return ModelResponse()


def test_wall_time_stops_a_slow_model() -> None:
    started = time.monotonic()
    outcome = play(SlowModel(), make_run((), AgentLimits(wall_time_s=0.2)))
    assert outcome.stop_reason is StopReason.WALL_TIME and outcome.steps == 0
    assert time.monotonic() - started < 1.0


def test_wall_time_checked_before_the_first_call() -> None:
    model = ScriptedModel()
    outcome = play(model, make_run((), AgentLimits(wall_time_s=0)))
    assert outcome.stop_reason is StopReason.WALL_TIME
    assert model.calls == []


def test_no_progress_after_three_replies_without_tools(echo: Tool) -> None:
    model = ScriptedModel(programs={Role.WORKER: lambda _: turn(text="I am thinking")})
    outcome = play(model, make_run((echo,)))
    assert outcome.stop_reason is StopReason.NO_PROGRESS and outcome.steps == 3
    nudged = model.calls[1].messages
    assert nudged[-2].role == "assistant" and nudged[-2].content == "I am thinking"
    assert nudged[-1].role == "user" and nudged[-1].content == NUDGE


def test_a_tool_call_resets_the_no_progress_count(echo: Tool) -> None:
    replies = [turn(text="hm"), turn(text="hm"), turn(call("echo", text="x"))]
    replies += [turn(text="hm"), turn(text="hm"), turn(call("finish", summary="done"))]
    model = ScriptedModel(recorded={Role.WORKER: replies})
    outcome = play(model, make_run((echo, *role_tools(Role.WORKER, None, False))))
    assert outcome.stop_reason is StopReason.FINISHED and outcome.steps == 6


def test_mistakes_become_error_results_and_the_run_goes_on(
    tmp_path: Path, recorder: Any, echo: Tool, broken: Tool
) -> None:
    bad_json = ToolCall(id="c2", name="echo", arguments={}, parse_error="Expecting value: line 1")
    model = ScriptedModel(
        recorded={
            Role.WORKER: [
                turn(call("nope", x=1), bad_json),
                turn(call("echo"), call("echo", text=3), call("broken")),
                turn(call("echo", text="fine"), call("finish", summary="ok")),
            ]
        }
    )
    tools = (echo, broken, *role_tools(Role.WORKER, None, False))
    outcome = play(model, make_run(tools), recorder)
    assert outcome.stop_reason is StopReason.FINISHED
    results = [result for _, _, _, result in recorder.tools]
    assert [r.is_error for r in results] == [True] * 5 + [False, False]
    assert "unknown tool `nope`" in results[0].text and "echo, finish" in results[0].text
    assert "not a JSON object" in results[1].text
    assert "needs the argument `text`" in results[2].text
    assert "argument `text` must be a string, got integer" in results[3].text
    assert "RuntimeError: disk on fire" in results[4].text
    second = model.calls[1].messages
    assert [m.tool_call_id for m in second if m.role == "tool"] == ["call_nope", "c2"]


def test_finish_ends_the_run_and_skips_later_calls(tmp_path: Path) -> None:
    model = ScriptedModel(
        recorded={Role.WORKER: [turn(call("finish", summary="s"), call("write_file", path="a", content="x"))]}
    )
    outcome = play(model, make_run(worker_tools(tmp_path)))
    assert outcome.stop_reason is StopReason.FINISHED and outcome.finish is not None
    assert not (tmp_path / "a").exists()


def test_judge_verdict_finishes() -> None:
    model = ScriptedModel(recorded={Role.JUDGE: [turn(call("verdict", decision="stop", notes="all green"))]})
    outcome = play(model, make_run(role_tools(Role.JUDGE, None, False), role=Role.JUDGE))
    assert outcome.finish == {"decision": "stop", "notes": "all green"}


def test_model_error_ends_the_run_with_its_message(echo: Tool) -> None:
    model = ScriptedModel(recorded={Role.WORKER: [turn(call("echo", text="x"), tokens=(10, 1))]})
    outcome = play(model, make_run((echo,)))
    assert outcome.stop_reason is StopReason.MODEL_ERROR
    assert outcome.error is not None and "no turns left" in outcome.error
    assert outcome.steps == 1 and outcome.usage == Usage(10, 1)


class TimingOutModel:
    name = "timeouts"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        raise TimeoutError("read timed out")


def test_a_model_timeout_is_a_model_error_not_wall_time() -> None:
    outcome = play(TimingOutModel(), make_run(()))
    assert outcome.stop_reason is StopReason.MODEL_ERROR
    assert outcome.error == "model call timed out: read timed out"


def test_cost_is_summed(echo: Tool) -> None:
    reply = ModelResponse(tool_calls=(call("echo", text="x"),), usage=Usage(1, 1), cost_usd=0.25)
    model = ScriptedModel(programs={Role.WORKER: lambda _: reply})
    outcome = play(model, make_run((echo,), AgentLimits(max_steps=4)))
    assert outcome.cost_usd == pytest.approx(1.0)


def test_duplicate_tool_names_are_refused(echo: Tool) -> None:
    with pytest.raises(ValueError, match="duplicate tool names"):
        play(ScriptedModel(), make_run((echo, echo)))


def test_long_conversations_are_trimmed(monkeypatch: pytest.MonkeyPatch, echo: Tool) -> None:
    monkeypatch.setattr(agent_context, "BUDGET_CHARS", 5_000)
    model = ScriptedModel(programs={Role.WORKER: lambda _: turn(call("echo", text="y" * 2_000))})
    play(model, make_run((echo,), AgentLimits(max_steps=6)))
    messages = model.calls[-1].messages
    assert sum(agent_context.size(m) for m in messages) <= 5_000 + 2_100
    assert messages[0].content == "You are a worker." and messages[1].content == "Do the task."
    assert messages[3].content == agent_context.TRIMMED
    assert messages[-1].content == "y" * 2_000


def test_wall_time_kills_a_running_shell_command(tmp_path: Path) -> None:
    marker = f"shipyard-test-{uuid.uuid4().hex}"
    command = f"(setsid bash -c 'exec -a {marker} sleep 30' &); exec -a {marker} sleep 30"
    model = ScriptedModel(recorded={Role.WORKER: [turn(call("shell", command=command))]})
    started = time.monotonic()
    outcome = play(model, make_run(worker_tools(tmp_path), AgentLimits(wall_time_s=0.3)))
    assert outcome.stop_reason is StopReason.WALL_TIME
    assert time.monotonic() - started < 3.0
    alive = [p for p in Path("/proc").glob("[0-9]*") if marker.encode() in _cmdline(p)]
    assert alive == []


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""
