"""A reply cut at the output limit never runs as a tool call: retried once larger, else the agent is told."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from fake_llm import FakeLLMServer, FakeReply
from shipyard.agent import AgentLimits, AgentOutcome, AgentRun, ToolResult, run_agent
from shipyard.agent.loop import CUT_NOTE
from shipyard.agent.tool import schema
from shipyard.domain import Role
from shipyard.models.anthropic import AnthropicModel
from shipyard.models.base import Model, ModelResponse, ToolSpec
from shipyard.models.generation import Generation, GenerationModel
from shipyard.models.openai import OpenAIModel


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


HALF = '{"path": "big.py", "content": "def f():\\n    retur'  # a tool call cut mid-arguments


class WriteFile:
    spec = ToolSpec(
        "write_file", "Write a file.", schema({"path": {"type": "string"}, "content": {"type": "string"}})
    )

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def run(self, args: dict[str, Any]) -> ToolResult:
        self.calls.append(args)
        return ToolResult("written")


class Finish:
    spec = ToolSpec("finish", "End.", schema({"summary": {"type": "string"}}, ("summary",)))

    async def run(self, args: dict[str, Any]) -> ToolResult:
        return ToolResult("finished", finish=dict(args))


class Observed:
    def __init__(self) -> None:
        self.responses: list[ModelResponse] = []

    def model_called(self, run: AgentRun, step: int, response: ModelResponse) -> None:
        self.responses.append(response)

    def tool_called(self, *args: Any) -> None:
        pass


def _limit(api: str, body: dict[str, Any]) -> int:
    return int(body["max_completion_tokens"] if api == "openai" else body["max_tokens"])


def _text(api: str, body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


def _play(
    server: FakeLLMServer, api: str, generation: Generation
) -> tuple[AgentOutcome, WriteFile, Observed]:
    tool, observed = WriteFile(), Observed()

    async def go() -> AgentOutcome:
        model: Model
        if api == "openai":
            client: Any = openai.AsyncOpenAI(api_key="k", base_url=server.openai_base_url, max_retries=0)
            model = OpenAIModel("gpt-5", client)
        else:
            client = anthropic.AsyncAnthropic(api_key="k", base_url=server.anthropic_base_url, max_retries=0)
            model = AnthropicModel("claude-sonnet-4-5", client)
        async with client:
            guarded = GenerationModel(model, {Role.WORKER: generation})
            run = AgentRun(
                Role.WORKER, "w", "You write files.", "Write big.py.", (tool, Finish()), AgentLimits()
            )
            return await run_agent(guarded, run, observed)

    return asyncio.run(go()), tool, observed


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_a_cut_reply_is_retried_once_with_the_larger_limit(server: FakeLLMServer, api: str) -> None:
    def reply(api: str, body: dict[str, Any]) -> FakeReply:
        if any(m["role"] == "assistant" for m in body["messages"]):
            return FakeReply(tool_calls=[("finish", {"summary": "done"})])
        if _limit(api, body) < 64_000:
            return FakeReply(tool_calls=[("write_file", {})], raw_arguments=HALF, cut=True)
        return FakeReply(tool_calls=[("write_file", {"path": "big.py", "content": "x"})])

    server.responder = reply
    outcome, tool, observed = _play(server, api, Generation(max_output_tokens=8_000))

    assert [_limit(api, b) for b in server.requests] == [8_000, 64_000, 8_000]
    assert tool.calls == [{"path": "big.py", "content": "x"}], "only the complete call ran"
    assert observed.responses[0].cut_retries == 1 and not observed.responses[0].cut_off
    assert outcome.usage.output_tokens == 3 * 7, "the cut call is billed too"
    assert outcome.finish == {"summary": "done"}


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_a_reply_cut_again_is_not_run_and_the_agent_is_told(server: FakeLLMServer, api: str) -> None:
    def reply(api: str, body: dict[str, Any]) -> FakeReply:
        if CUT_NOTE in _text(api, body):
            return FakeReply(tool_calls=[("finish", {"summary": "wrote it in parts"})])
        return FakeReply(tool_calls=[("write_file", {})], raw_arguments=HALF, cut=True)

    server.responder = reply
    outcome, tool, observed = _play(server, api, Generation(max_output_tokens=8_000))

    assert tool.calls == [], "a cut tool call never runs"
    assert [_limit(api, b) for b in server.requests] == [8_000, 64_000, 8_000]
    assert observed.responses[0].cut_off and observed.responses[0].cut_retries == 1
    assert outcome.finish == {"summary": "wrote it in parts"}, "the run goes on"


def test_no_retry_when_the_limit_is_already_the_largest(server: FakeLLMServer) -> None:
    server.responder = lambda api, body: (
        FakeReply(tool_calls=[("finish", {"summary": "ok"})])
        if CUT_NOTE in _text(api, body)
        else FakeReply(tool_calls=[("write_file", {})], raw_arguments=HALF, cut=True)
    )
    outcome, tool, _ = _play(
        server, "openai", Generation(max_output_tokens=8_000, retry_max_output_tokens=8_000)
    )
    assert [_limit("openai", b) for b in server.requests] == [8_000, 8_000]
    assert tool.calls == [] and outcome.finish == {"summary": "ok"}
