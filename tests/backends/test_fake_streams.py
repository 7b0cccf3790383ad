"""The fake model server's streams, read by the vendors' own SDKs: what the real CLIs are given in the
backend tests is well-formed even where those CLIs are not installed."""

from __future__ import annotations

import asyncio
import json

import anthropic
import openai

from fake_llm import FakeLLMServer, FakeReply


def _reply(api: str, body: dict[str, object]) -> FakeReply:
    return FakeReply(text="on it", tool_calls=[("Bash", {"command": "ls"})])


def test_anthropic_messages_stream() -> None:
    async def read(url: str) -> anthropic.types.Message:
        client = anthropic.AsyncAnthropic(api_key="k", base_url=url, max_retries=0)
        messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": "hi"}]
        async with client.messages.stream(model="m", max_tokens=10, messages=messages) as stream:
            return await stream.get_final_message()

    with FakeLLMServer(_reply) as server:
        message = asyncio.run(read(server.anthropic_base_url))
    text, call = message.content
    assert text.type == "text" and text.text == "on it"
    assert call.type == "tool_use" and call.name == "Bash" and call.input == {"command": "ls"}
    assert message.stop_reason == "tool_use" and message.usage.output_tokens == 7


def test_openai_responses_stream() -> None:
    async def read(url: str) -> list[str]:
        client = openai.AsyncOpenAI(api_key="k", base_url=url, max_retries=0)
        stream = await client.responses.create(model="m", input="hi", stream=True)
        return [event.type async for event in stream]

    with FakeLLMServer(_reply) as server:
        kinds = asyncio.run(read(server.openai_base_url))
        request = server.requests[0]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds and kinds.count("response.output_item.done") == 2
    assert request["input"] == "hi" and json.loads(json.dumps(request))["stream"] is True
