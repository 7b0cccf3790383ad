"""`ResponsesModel` over real HTTP against the fake server (streamed), with the real `openai` client."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from fake_llm import OUTPUT_TOKENS, FakeLLMServer, FakeReply
from shipyard.agent import AgentLimits, AgentRun, ToolResult, run_agent
from shipyard.agent.tool import schema
from shipyard.domain import Role
from shipyard.errors import ModelError
from shipyard.models.base import Message, ModelRequest, ModelResponse, ToolSpec, Usage
from shipyard.models.factory import ProviderSettings, build_provider_model, parse_model_string
from shipyard.models.generation import Generation, GenerationModel
from shipyard.models.pricing import price_usd
from shipyard.models.responses import ResponsesModel


class Lookup:
    spec = ToolSpec("lookup", "Look a name up.", schema({"name": {"type": "string"}}, ("name",)))

    async def run(self, args: dict[str, Any]) -> ToolResult:
        return ToolResult(f"{args['name']} is 42")


class Finish:
    spec = ToolSpec("finish", "End.", schema({"summary": {"type": "string"}}, ("summary",)))

    async def run(self, args: dict[str, Any]) -> ToolResult:
        return ToolResult("finished", finish=dict(args))


def _turn(api: str, body: dict[str, Any]) -> FakeReply:
    done = sum(1 for i in body["input"] if i.get("type") == "function_call_output")
    if done == 0:
        return FakeReply(text="Looking.", tool_calls=[("lookup", {"name": "x"})], reasoning="plan: look x up")
    if done == 1:
        return FakeReply(tool_calls=[("lookup", {"name": "y"})], reasoning="now y")
    return FakeReply(tool_calls=[("finish", {"summary": "x and y are 42"})], cache_read=8, input_tokens=20)


def _run(server: FakeLLMServer, generation: Generation) -> Any:
    async def go() -> Any:
        async with openai.AsyncOpenAI(api_key="k", base_url=server.openai_base_url, max_retries=0) as client:
            model = GenerationModel(ResponsesModel("gpt-5-codex", client), {Role.WORKER: generation})
            run = AgentRun(
                Role.WORKER, "w", "You look things up.", "Find x and y.", (Lookup(), Finish()), AgentLimits()
            )
            return await run_agent(model, run)

    return asyncio.run(go())


def test_a_tool_loop_carries_reasoning_items_statelessly(server: FakeLLMServer) -> None:
    server.responder = _turn

    outcome = _run(server, Generation(reasoning_effort="high", max_output_tokens=9000))

    assert outcome.finish == {"summary": "x and y are 42"}, server.errors
    first, second, third = server.requests
    for body in (first, second, third):
        assert body["store"] is False and body["stream"] is True
        assert body["include"] == ["reasoning.encrypted_content"]
        assert body["reasoning"] == {"effort": "high"} and body["max_output_tokens"] == 9000
        assert body["instructions"] == "You look things up."
        assert body["tools"][0] == {
            "type": "function",
            "name": "lookup",
            "description": "Look a name up.",
            "parameters": Lookup.spec.parameters,
            "strict": False,
        }
        assert body["prompt_cache_key"] == first["prompt_cache_key"]
    assert first["input"] == [{"role": "user", "content": "Find x and y."}]
    reasoning = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "plan: look x up"}],
        "encrypted_content": "enc-1",
    }
    assert second["input"] == [
        {"role": "user", "content": "Find x and y."},
        reasoning,
        {"role": "assistant", "content": "Looking."},
        {"type": "function_call", "call_id": "call_1_0", "name": "lookup", "arguments": '{"name": "x"}'},
        {"type": "function_call_output", "call_id": "call_1_0", "output": "x is 42"},
    ]
    assert third["input"][:5] == second["input"], "the prefix stays byte-identical"
    assert third["input"][5]["id"] == "rs_2" and third["input"][5]["encrypted_content"] == "enc-2"


def test_usage_splits_cached_and_is_priced_as_billed(server: FakeLLMServer) -> None:
    server.responder = lambda api, body: FakeReply(text="hi", cache_read=8, input_tokens=20)

    async def go() -> ModelResponse:
        async with openai.AsyncOpenAI(api_key="k", base_url=server.openai_base_url, max_retries=0) as client:
            return await ResponsesModel("gpt-5", client).complete(ModelRequest((Message("user", "hi"),)))

    response = asyncio.run(go())
    assert response.text == "hi" and not response.cut_off
    assert response.usage == Usage(20, OUTPUT_TOKENS, cache_read_tokens=8)
    assert response.cost_usd == pytest.approx(price_usd("openai", "gpt-5", response.usage) or 0)
    assert response.cost_usd < price_usd("openai", "gpt-5", Usage(20, OUTPUT_TOKENS)), "cached is cheaper"


def test_an_incomplete_reply_is_cut_off(server: FakeLLMServer) -> None:
    server.responder = lambda api, body: FakeReply(
        tool_calls=[("lookup", {})], raw_arguments='{"na', cut=True
    )

    async def go() -> ModelResponse:
        async with openai.AsyncOpenAI(api_key="k", base_url=server.openai_base_url, max_retries=0) as client:
            return await ResponsesModel("gpt-5", client).complete(ModelRequest((Message("user", "go"),)))

    assert asyncio.run(go()).cut_off


def test_the_fake_refuses_an_output_without_its_call(server: FakeLLMServer) -> None:
    request = ModelRequest((Message("user", "go"), Message("tool", "orphan", tool_call_id="call_9")))

    async def go() -> ModelResponse:
        async with openai.AsyncOpenAI(api_key="k", base_url=server.openai_base_url, max_retries=0) as client:
            return await ResponsesModel("gpt-5", client).complete(request)

    with pytest.raises(ModelError, match="bad request"):
        asyncio.run(go())


def test_the_model_string_builds_a_responses_model_on_the_openai_key() -> None:
    ref = parse_model_string("openai-responses:gpt-5-codex")
    model = build_provider_model(ref, ProviderSettings(), {"OPENAI_API_KEY": "sk-test"})
    assert isinstance(model, ResponsesModel) and model.name == "openai-responses:gpt-5-codex"
