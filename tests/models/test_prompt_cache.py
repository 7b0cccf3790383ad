"""Prompt caching over real HTTP: the real agent loop and provider code against the fake server."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from typing import Any

import anthropic
import openai
import pytest

from fake_llm import FakeLLMServer, FakeReply
from shipyard.agent import AgentLimits, AgentRun, run_agent
from shipyard.agent.tool import ToolResult, schema
from shipyard.domain import Role
from shipyard.errors import ModelError
from shipyard.models.anthropic import AnthropicModel
from shipyard.models.base import CacheTTL, Message, ModelRequest, ToolSpec
from shipyard.models.generation import Generation, GenerationModel
from shipyard.models.openai import OpenAIModel
from shipyard.models.responses import ResponsesModel

STEPS = 6


class ReadFile:
    spec = ToolSpec("read_file", "Read a file.", schema({"path": {"type": "string"}}, ("path",)))

    async def run(self, args: dict[str, Any]) -> ToolResult:
        return ToolResult(f"contents of {args['path']}\n" + "x = 1\n" * 50)


class Finish:
    spec = ToolSpec("finish", "End the task.", schema({"summary": {"type": "string"}}, ("summary",)))

    async def run(self, args: dict[str, Any]) -> ToolResult:
        return ToolResult("finished", finish=dict(args))


def _session(api: str, body: dict[str, Any]) -> FakeReply:
    step = sum(1 for m in body["messages"] if m["role"] == "assistant")
    if step < STEPS - 1:
        calls = [("read_file", {"path": f"f{step}.py"})]
        if step % 2:  # two calls in one reply now and then: the user turn gets two blocks
            calls.append(("read_file", {"path": f"g{step}.py"}))
        return FakeReply(text=f"step {step}", tool_calls=calls)
    return FakeReply(tool_calls=[("finish", {"summary": "read them all"})])


def _anthropic(server: FakeLLMServer, generation: Generation | None = None) -> None:
    async def go() -> None:
        async with anthropic.AsyncAnthropic(
            api_key="k", base_url=server.anthropic_base_url, max_retries=0
        ) as client:
            inner = AnthropicModel("claude-sonnet-4-5", client)
            role = Role.WORKER
            model = GenerationModel(inner, {role: generation or Generation()})
            run = AgentRun(
                role, "w", "You are a worker.", "Read the files.", (ReadFile(), Finish()), AgentLimits()
            )
            assert (await run_agent(model, run)).finish == {"summary": "read them all"}

    asyncio.run(go())


def _blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request as the cache sees it: tools, system, then every message block, in order."""
    blocks = [dict(t, _kind="tool") for t in body.get("tools", [])]
    blocks += [dict(b, _kind="system") for b in body.get("system", [])]
    for message in body["messages"]:
        blocks += [dict(b, _kind=f"{message['role']}") for b in message["content"]]
    return blocks


def _marks(blocks: list[dict[str, Any]]) -> list[int]:
    return [i for i, b in enumerate(blocks) if "cache_control" in b]


def _bytes(blocks: list[dict[str, Any]]) -> bytes:
    return json.dumps([{k: v for k, v in b.items() if k != "cache_control"} for b in blocks]).encode()


def test_anthropic_breakpoints_roll_forward_over_a_byte_identical_prefix(server: FakeLLMServer) -> None:
    server.responder = _session

    _anthropic(server)

    bodies = server.requests
    assert len(bodies) == STEPS
    previous: list[dict[str, Any]] = []
    for body in bodies:
        blocks = _blocks(body)
        marks = _marks(blocks)
        assert len(marks) <= 4
        assert blocks[marks[0]]["_kind"] == "system", "tools + system are cached first"
        assert marks[-1] == len(blocks) - 1, "the newest turn is written to the cache"
        if previous:
            end = _marks(previous)[-1] + 1
            assert _bytes(blocks[:end]) == _bytes(previous[:end]), "prefix changed since the last step"
            assert end - 1 in marks, "the previous step's breakpoint is read from the cache"
        previous = blocks


@pytest.mark.parametrize(
    ("ttl", "prefix", "expected"),
    [
        ("5m", "1h", [{"type": "ephemeral", "ttl": "1h"}] + [{"type": "ephemeral"}] * 2),
        ("1h", None, [{"type": "ephemeral", "ttl": "1h"}] * 3),
        ("off", "1h", []),
    ],
)
def test_cache_ttls_as_configured(
    server: FakeLLMServer, ttl: CacheTTL, prefix: CacheTTL | None, expected: list[dict[str, str]]
) -> None:
    server.responder = _session

    _anthropic(server, Generation(cache_ttl=ttl, prefix_cache_ttl=prefix))

    blocks = _blocks(server.requests[-1])
    marks = [blocks[i]["cache_control"] for i in _marks(blocks)]
    assert marks == expected


def test_the_fake_refuses_a_fifth_breakpoint_as_the_api_does(server: FakeLLMServer) -> None:
    mark = {"type": "ephemeral"}
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": str(i), "cache_control": mark} for i in range(5)],
            }
        ],
    }

    async def go() -> None:
        async with anthropic.AsyncAnthropic(
            api_key="k", base_url=server.anthropic_base_url, max_retries=0
        ) as c:
            await c.messages.create(**body)

    with pytest.raises(anthropic.BadRequestError, match="maximum of 4 blocks with cache_control"):
        asyncio.run(go())


def test_openai_sends_one_prompt_cache_key_per_session_over_a_growing_prefix(server: FakeLLMServer) -> None:
    server.responder = _session

    async def go() -> None:
        async with openai.AsyncOpenAI(api_key="k", base_url=server.openai_base_url, max_retries=0) as c:
            model = GenerationModel(OpenAIModel("gpt-5", c), {Role.WORKER: Generation(cache_retention="24h")})
            run = AgentRun(
                Role.WORKER, "worker-3", "You are a worker.", "Read.", (ReadFile(), Finish()), AgentLimits()
            )
            await run_agent(model, run)
            await run_agent(model, run)  # a second session of the same agent

    asyncio.run(go())

    bodies = server.requests
    keys = [b["prompt_cache_key"] for b in bodies]
    assert len(set(keys[:STEPS])) == 1 and len(set(keys[STEPS:])) == 1 and keys[0] != keys[-1]
    assert keys[0].startswith("worker-3-")
    assert all(b["prompt_cache_retention"] == "24h" for b in bodies)
    for before, after in itertools.pairwise(bodies[:STEPS]):
        n = len(before["messages"])
        assert json.dumps(after["messages"][:n]) == json.dumps(before["messages"]), "prefix changed"
        assert json.dumps(after["tools"]) == json.dumps(before["tools"])


def test_a_request_without_session_sends_no_cache_key(server: FakeLLMServer) -> None:
    async def go() -> None:
        async with openai.AsyncOpenAI(api_key="k", base_url=server.openai_base_url, max_retries=0) as c:
            await OpenAIModel("gpt-5", c).complete(ModelRequest((Message("user", "hi"),)))

    asyncio.run(go())
    assert "prompt_cache_key" not in server.requests[0]
    assert "prompt_cache_retention" not in server.requests[0]


def test_model_error_names_the_refusal(server: FakeLLMServer) -> None:
    server.responder = lambda api, body: FakeReply(text="bad", status=400)

    async def go() -> None:
        async with anthropic.AsyncAnthropic(
            api_key="k", base_url=server.anthropic_base_url, max_retries=0
        ) as c:
            await AnthropicModel("claude-sonnet-4-5", c).complete(ModelRequest((Message("user", "hi"),)))

    with pytest.raises(ModelError, match="bad request"):
        asyncio.run(go())


@pytest.mark.parametrize("api", ["anthropic", "responses", "openai"])
def test_a_stream_that_goes_quiet_times_out_as_retryable(server: FakeLLMServer, api: str) -> None:
    release = threading.Event()
    server.responder = lambda api, body: FakeReply(text="a long reply", stall=release)

    async def go() -> None:
        request = ModelRequest((Message("user", "hi"),))
        if api == "anthropic":
            async with anthropic.AsyncAnthropic(api_key="k", base_url=server.anthropic_base_url) as c:
                await AnthropicModel("claude-sonnet-4-5", c, idle_timeout_s=0.2).complete(request)
        else:
            async with openai.AsyncOpenAI(api_key="k", base_url=server.openai_base_url) as o:
                kind = ResponsesModel if api == "responses" else OpenAIModel
                await kind("gpt-5", o, idle_timeout_s=0.2).complete(request)

    try:
        with pytest.raises(ModelError, match=r"no stream event for 0.2s") as info:
            asyncio.run(go())
    finally:
        release.set()
    assert info.value.retryable
