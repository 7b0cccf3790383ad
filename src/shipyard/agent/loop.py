"""The built-in tool-calling loop: ask the model, run its tool calls, stop on `finish` or a limit."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from shipyard.agent import context
from shipyard.agent.tool import Tool, ToolResult, check_args, error
from shipyard.domain import Role
from shipyard.errors import ModelError, ToolError
from shipyard.models.base import Message, Model, ModelRequest, ModelResponse, ToolCall, Usage

NUDGE = "Use a tool; call `finish` (or `verdict`) when done."
CUT_NOTE = (
    "Your last reply was cut off at the output limit, so its tool calls were not run. "
    "Write smaller pieces: one file or one edit per call, long files in parts."
)
MAX_IDLE_REPLIES = 3


class StopReason(StrEnum):
    FINISHED = "finished"
    MAX_STEPS = "max_steps"
    WALL_TIME = "wall_time"
    MAX_TOKENS = "max_tokens"
    MODEL_ERROR = "model_error"
    NO_PROGRESS = "no_progress"


@dataclass(frozen=True)
class AgentLimits:
    max_steps: int = 50
    wall_time_s: float = 900.0
    max_tokens: int = 400_000
    context_chars: int | None = None  # compact the conversation past this size; None: context.BUDGET_CHARS


@dataclass(frozen=True)
class AgentRun:
    """One agent's run: who it is, what it is told, and what it may use."""

    role: Role
    agent: str
    system: str
    prompt: str
    tools: tuple[Tool, ...]
    limits: AgentLimits


@dataclass(frozen=True)
class AgentOutcome:
    stop_reason: StopReason
    finish: dict[str, Any] | None
    usage: Usage
    cost_usd: float
    steps: int
    error: str | None = None


class Observer(Protocol):
    """Told about every model reply and tool call, e.g. to write transcripts and cost to the event log."""

    def model_called(self, run: AgentRun, step: int, response: ModelResponse) -> None: ...

    def tool_called(
        self, run: AgentRun, step: int, name: str, args: dict[str, Any], result: ToolResult
    ) -> None: ...


@dataclass
class _State:
    """What a run has used so far and the conversation it has had."""

    run: AgentRun
    observer: Observer | None
    messages: list[Message]
    started: float = field(default_factory=time.monotonic)
    session: str = field(default_factory=lambda: secrets.token_hex(8))
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    steps: int = 0
    idle: int = 0

    def remaining_s(self) -> float:
        return self.run.limits.wall_time_s - (time.monotonic() - self.started)

    def outcome(
        self, reason: StopReason, finish: dict[str, Any] | None = None, error: str | None = None
    ) -> AgentOutcome:
        return AgentOutcome(reason, finish, self.usage, self.cost_usd, self.steps, error)


async def run_agent(model: Model, run: AgentRun, observer: Observer | None = None) -> AgentOutcome:
    """Run one agent until it finishes or hits a limit; never raises for the agent's own mistakes."""
    tools = _index(run.tools)
    state = _State(run, observer, [Message("system", run.system), Message("user", run.prompt)])
    while (reason := _limit_reached(state)) is None:
        try:
            response = await _ask(model, state)
            if response.cut_off:
                if _cut(state, response) >= MAX_IDLE_REPLIES:
                    return state.outcome(StopReason.NO_PROGRESS)
                continue
            if not response.tool_calls:
                if _nudge(state, response) >= MAX_IDLE_REPLIES:
                    return state.outcome(StopReason.NO_PROGRESS)
                continue
            state.idle = 0
            done = await _act(tools, state, response)
        except ModelError as exc:
            return state.outcome(StopReason.MODEL_ERROR, error=str(exc))
        except TimeoutError:  # only the wall-time limit raises it here
            return state.outcome(StopReason.WALL_TIME)
        if done is not None:
            return state.outcome(StopReason.FINISHED, finish=done.finish)
    return state.outcome(reason)


def _index(tools: Sequence[Tool]) -> dict[str, Tool]:
    by_name = {tool.spec.name: tool for tool in tools}
    if len(by_name) != len(tools):
        raise ValueError(f"duplicate tool names in {[tool.spec.name for tool in tools]}")
    return by_name


def _limit_reached(state: _State) -> StopReason | None:
    limits = state.run.limits
    if state.steps >= limits.max_steps:
        return StopReason.MAX_STEPS
    if state.remaining_s() <= 0:
        return StopReason.WALL_TIME
    if state.usage.total >= limits.max_tokens:
        return StopReason.MAX_TOKENS
    return None


async def _ask(model: Model, state: _State) -> ModelResponse:
    """One model call within the remaining wall time; records usage and tells the observer."""
    state.messages = context.compact(state.messages, run_budget(state.run))
    run = state.run
    specs = tuple(t.spec for t in run.tools)
    session = f"{run.agent}-{state.session}"
    request = ModelRequest(tuple(state.messages), specs, run.role, run.agent, session=session)
    response = await asyncio.wait_for(_complete(model, request), state.remaining_s())
    state.steps += 1
    state.usage += response.usage
    state.cost_usd += response.cost_usd
    if state.observer is not None:
        state.observer.model_called(run, state.steps, response)
    return response


def run_budget(run: AgentRun) -> int:
    """The conversation's size budget in characters."""
    return run.limits.context_chars or context.BUDGET_CHARS


async def _complete(model: Model, request: ModelRequest) -> ModelResponse:
    try:
        return await model.complete(request)
    except TimeoutError as exc:  # the model's own timeout, not the run's wall time
        raise ModelError(f"model call timed out: {exc}", retryable=True) from exc


def _nudge(state: _State, response: ModelResponse) -> int:
    """Answer a reply without tool calls with a reminder; returns how many such replies came in a row."""
    reply = response.text or "(no reply)"  # some providers refuse an empty assistant message
    state.messages += [Message("assistant", reply), Message("user", NUDGE)]
    state.idle += 1
    return state.idle


def _cut(state: _State, response: ModelResponse) -> int:
    """A reply cut at the output limit: its calls are not run; the agent is told to write less at once."""
    reply = response.text or "(reply cut off)"
    state.messages += [Message("assistant", reply), Message("user", CUT_NOTE)]
    state.idle += 1
    return state.idle


async def _act(tools: dict[str, Tool], state: _State, response: ModelResponse) -> ToolResult | None:
    """Run the reply's tool calls in order; returns the result that finished the run, if any."""
    reply = Message("assistant", response.text, response.tool_calls, reasoning=response.reasoning)
    state.messages.append(reply)
    for call in response.tool_calls:
        result = await asyncio.wait_for(_run_call(tools, call), state.remaining_s())
        state.messages.append(Message("tool", result.text, tool_call_id=call.id))
        if state.observer is not None:
            state.observer.tool_called(state.run, state.steps, call.name, call.arguments, result)
        if result.finish is not None:
            return result
    return None


async def _run_call(tools: dict[str, Tool], call: ToolCall) -> ToolResult:
    """One tool call; every mistake or failure becomes an error result the agent can read."""
    tool = tools.get(call.name)
    if tool is None:
        return error(f"unknown tool `{call.name}`; available: {', '.join(sorted(tools))}")
    if call.parse_error is not None:
        return error(
            f"arguments for `{call.name}` are not a JSON object ({call.parse_error}); send valid JSON"
        )
    problem = check_args(tool.spec, call.arguments)
    if problem is not None:
        return error(problem)
    try:
        return await tool.run(call.arguments)
    except ToolError as exc:
        return error(str(exc))
    except Exception as exc:  # a broken tool must not end the run; the agent sees what happened
        return error(f"`{call.name}` failed: {type(exc).__name__}: {exc}")
