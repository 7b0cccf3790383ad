"""`AnthropicModel` over real HTTP against the fake server, with the real `anthropic` client."""

from __future__ import annotations

import asyncio

import anthropic
import pytest

from fake_llm import INPUT_TOKENS, OUTPUT_TOKENS, FakeLLMServer, FakeReply, count_tool_results
from shipyard.models.anthropic import AnthropicModel, wire_messages
from shipyard.models.base import Message, ModelRequest, ModelResponse, ToolCall, Usage
from shipyard.models.pricing import Price, price_usd

MODEL = "claude-sonnet-4-6"


def complete(
    server: FakeLLMServer, request: ModelRequest, model_id: str = MODEL, price: Price | None = None
) -> ModelResponse:
    async def go() -> ModelResponse:
        async with anthropic.AsyncAnthropic(
            api_key="sk-ant-test", base_url=server.anthropic_base_url, max_retries=0
        ) as client:
            return await AnthropicModel(model_id, client, price=price).complete(request)

    return asyncio.run(go())


def test_tool_call_round_trip_sends_blocks_and_parses_the_call(
    server: FakeLLMServer, tool_request: ModelRequest
) -> None:
    server.responder = lambda api, body: FakeReply(
        text="Writing.", tool_calls=[("write_file", {"path": "a.py"})]
    )

    response = complete(server, tool_request)

    (body,) = server.requests
    assert body["model"] == MODEL
    assert body["max_tokens"] == 1000
    assert body["stream"] is True
    cache = {"type": "ephemeral"}
    assert body["system"] == [{"type": "text", "text": "You are a worker.", "cache_control": cache}]
    assert body["tools"] == [
        {
            "name": "read_file",
            "description": "Read a file of the repository.",
            "input_schema": tool_request.tools[0].parameters,
        }
    ]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Fix the bug.", "cache_control": cache}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Reading both files."},
                {"type": "tool_use", "id": "c1", "name": "read_file", "input": {"path": "a.py"}},
                {"type": "tool_use", "id": "c2", "name": "read_file", "input": {"path": "b.py"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "print(1)"},
                {"type": "tool_result", "tool_use_id": "c2", "content": "print(2)", "cache_control": cache},
            ],
        },
    ]
    assert count_tool_results("anthropic", body) == 2
    assert response.text == "Writing."
    assert response.tool_calls == (ToolCall("toolu_1_0", "write_file", {"path": "a.py"}),)
    assert response.usage == Usage(INPUT_TOKENS, OUTPUT_TOKENS)
    assert response.cost_usd == price_usd("anthropic", MODEL, Usage(INPUT_TOKENS, OUTPUT_TOKENS))
    assert response.cost_usd > 0


def test_text_reply_without_system_or_tools(server: FakeLLMServer) -> None:
    server.responder = lambda api, body: FakeReply(text="All done.")

    response = complete(server, ModelRequest(messages=(Message("user", "Say done."),)))

    assert (response.text, response.tool_calls) == ("All done.", ())
    assert "system" not in server.requests[0]
    assert "tools" not in server.requests[0]


def test_tool_input_that_is_not_an_object_becomes_a_parse_error(server: FakeLLMServer) -> None:
    server.responder = lambda api, body: FakeReply(tool_calls=[("read_file", {})], raw_arguments="[1, 2]")

    (call,) = complete(server, ModelRequest(messages=(Message("user", "go"),))).tool_calls

    assert call.arguments == {}
    assert call.parse_error is not None and "got list" in call.parse_error


def test_price_override_fills_cost(server: FakeLLMServer) -> None:
    response = complete(
        server, ModelRequest(messages=(Message("user", "hi"),)), model_id="claude-x", price=Price(3.0, 15.0)
    )

    assert response.cost_usd == pytest.approx((INPUT_TOKENS * 3.0 + OUTPUT_TOKENS * 15.0) / 1e6)


def test_wire_messages_skip_empty_turns_and_merge_same_role() -> None:
    messages = (
        Message("system", "sys"),
        Message("user", "one"),
        Message("assistant", ""),
        Message("user", "two"),
    )

    assert wire_messages(messages) == [
        {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]}
    ]


def test_tool_message_without_call_id_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="tool_call_id"):
        wire_messages((Message("tool", "out"),))
