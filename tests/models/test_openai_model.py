"""`OpenAIModel` over real HTTP against the fake server, with the real `openai` client."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from fake_llm import INPUT_TOKENS, OUTPUT_TOKENS, FakeLLMServer, FakeReply, count_tool_results
from shipyard.models.base import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    Message,
    ModelRequest,
    ModelResponse,
    ToolCall,
    Usage,
)
from shipyard.models.openai import OpenAIModel
from shipyard.models.pricing import Price, price_usd


def complete(
    server: FakeLLMServer, request: ModelRequest, model_id: str = "gpt-4o", price: Price | None = None
) -> ModelResponse:
    async def go() -> ModelResponse:
        async with openai.AsyncOpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0) as c:
            return await OpenAIModel(model_id, c, price=price).complete(request)

    return asyncio.run(go())


def test_tool_call_round_trip_sends_wire_messages_and_parses_the_call(
    server: FakeLLMServer, tool_request: ModelRequest
) -> None:
    server.responder = lambda api, body: FakeReply(
        tool_calls=[("write_file", {"path": "a.py", "content": "x"})]
    )

    response = complete(server, tool_request)

    (body,) = server.requests
    assert body["model"] == "gpt-4o"
    assert body["max_completion_tokens"] == 1000
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "read_file",
                "description": "Read a file of the repository.",
                "parameters": tool_request.tools[0].parameters,
            },
        }
    ]
    assert body["messages"] == [
        {"role": "system", "content": "You are a worker."},
        {"role": "user", "content": "Fix the bug."},
        {
            "role": "assistant",
            "content": "Reading both files.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path": "a.py"}'},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path": "b.py"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "print(1)"},
        {"role": "tool", "tool_call_id": "c2", "content": "print(2)"},
    ]
    assert response.tool_calls == (ToolCall("call_1_0", "write_file", {"path": "a.py", "content": "x"}),)
    assert response.text == ""
    assert response.usage == Usage(INPUT_TOKENS, OUTPUT_TOKENS)
    assert response.cost_usd == price_usd("openai", "gpt-4o", Usage(INPUT_TOKENS, OUTPUT_TOKENS))
    assert response.cost_usd > 0


def test_text_reply_without_tools_sends_no_tools_key(server: FakeLLMServer) -> None:
    server.responder = lambda api, body: FakeReply(text="All done.")
    request = ModelRequest(messages=(Message("user", "Say done."),))

    response = complete(server, request)

    assert response.text == "All done."
    assert response.tool_calls == ()
    assert "tools" not in server.requests[0]
    assert server.requests[0]["max_completion_tokens"] == DEFAULT_MAX_OUTPUT_TOKENS


def test_assistant_message_with_only_tool_calls_sends_null_content(server: FakeLLMServer) -> None:
    request = ModelRequest(
        messages=(
            Message("user", "go"),
            Message("assistant", "", tool_calls=(ToolCall("c1", "ls", {}),)),
            Message("tool", "a.py", tool_call_id="c1"),
        )
    )

    complete(server, request)

    assert server.requests[0]["messages"][1]["content"] is None


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ('{"path": "a.py"', "not valid JSON"),
        ("[1, 2]", "must be a JSON object, got list"),
        ('"a.py"', "must be a JSON object, got str"),
    ],
)
def test_malformed_tool_arguments_become_a_parse_error(server: FakeLLMServer, raw: str, error: str) -> None:
    server.responder = lambda api, body: FakeReply(tool_calls=[("read_file", {})], raw_arguments=raw)

    (call,) = complete(server, ModelRequest(messages=(Message("user", "go"),))).tool_calls

    assert call.name == "read_file"
    assert call.arguments == {}
    assert call.parse_error is not None and error in call.parse_error


def test_empty_arguments_mean_no_arguments(server: FakeLLMServer) -> None:
    server.responder = lambda api, body: FakeReply(tool_calls=[("list_files", {})], raw_arguments="")

    (call,) = complete(server, ModelRequest(messages=(Message("user", "go"),))).tool_calls

    assert (call.arguments, call.parse_error) == ({}, None)


def test_price_override_fills_cost(server: FakeLLMServer) -> None:
    request = ModelRequest(messages=(Message("user", "hi"),))

    response = complete(server, request, model_id="my-local-llama", price=Price(1.0, 2.0))

    assert response.cost_usd == pytest.approx((INPUT_TOKENS * 1.0 + OUTPUT_TOKENS * 2.0) / 1e6)


def test_unknown_model_costs_zero(server: FakeLLMServer) -> None:
    response = complete(server, ModelRequest(messages=(Message("user", "hi"),)), model_id="my-local-llama")

    assert response.cost_usd == 0.0
    assert response.usage.total == INPUT_TOKENS + OUTPUT_TOKENS


def test_stateless_responder_drives_a_tool_loop(server: FakeLLMServer) -> None:
    def responder(api: str, body: dict[str, Any]) -> FakeReply:
        if count_tool_results(api, body) == 0:
            return FakeReply(tool_calls=[("ls", {})])
        return FakeReply(text="finished")

    server.responder = responder
    messages: tuple[Message, ...] = (Message("user", "go"),)
    first = complete(server, ModelRequest(messages=messages))
    messages += (
        Message("assistant", tool_calls=first.tool_calls),
        Message("tool", "a.py", tool_call_id="call_1_0"),
    )
    second = complete(server, ModelRequest(messages=messages))

    assert first.tool_calls[0].name == "ls"
    assert second.text == "finished"
    assert len(server.requests) == 2
