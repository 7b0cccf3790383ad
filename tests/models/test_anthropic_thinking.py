"""Extended thinking with tool use: thinking blocks go back unchanged, first in their turn."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic

from fake_llm import FakeLLMServer, FakeReply
from shipyard.agent import AgentLimits, AgentRun, ToolResult, run_agent
from shipyard.agent.tool import schema
from shipyard.domain import Role
from shipyard.models.anthropic import AnthropicModel
from shipyard.models.base import ToolSpec
from shipyard.models.generation import Generation, GenerationModel


class Lookup:
    spec = ToolSpec("lookup", "Look a name up.", schema({"name": {"type": "string"}}, ("name",)))

    async def run(self, args: dict[str, Any]) -> ToolResult:
        if args["name"] == "done":
            return ToolResult("finished", finish={"summary": "ok"})
        return ToolResult(f"{args['name']} is 42")


def _turn(api: str, body: dict[str, Any]) -> FakeReply:
    step = sum(1 for m in body["messages"] if m["role"] == "assistant")
    name = "done" if step == 2 else f"n{step}"
    return FakeReply(text=f"step {step}", tool_calls=[("lookup", {"name": name})], reasoning=f"think {step}")


def test_thinking_blocks_are_passed_back_with_tool_use(server: FakeLLMServer) -> None:
    server.responder = _turn

    async def go() -> Any:
        async with anthropic.AsyncAnthropic(
            api_key="k", base_url=server.anthropic_base_url, max_retries=0
        ) as c:
            settings = Generation(max_output_tokens=8000, thinking_budget_tokens=2048)
            model = GenerationModel(AnthropicModel("claude-sonnet-4-5", c), {Role.WORKER: settings})
            run = AgentRun(Role.WORKER, "w", "You look up.", "Look up.", (Lookup(),), AgentLimits())
            return await run_agent(model, run)

    outcome = asyncio.run(go())

    assert outcome.finish == {"summary": "ok"}, server.errors
    first, second, third = server.requests
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 2048} and first["max_tokens"] == 8000
    assert second["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": "think 0",
        "signature": "sig-1",
    }
    assert third["messages"][3]["content"][0]["signature"] == "sig-2"


def test_the_fake_refuses_a_tool_turn_without_its_thinking(server: FakeLLMServer) -> None:
    body = {
        "model": "m",
        "max_tokens": 4000,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "x first", "signature": "s1"},
                    {"type": "tool_use", "id": "t0", "name": "x", "input": {}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t0", "content": "ok"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
        ],
    }

    async def go() -> None:
        async with anthropic.AsyncAnthropic(
            api_key="k", base_url=server.anthropic_base_url, max_retries=0
        ) as c:
            await c.messages.create(**body)

    try:
        asyncio.run(go())
    except anthropic.BadRequestError as exc:
        assert "Expected `thinking`" in str(exc)
    else:
        raise AssertionError("the fake accepted a tool turn without its thinking block")
