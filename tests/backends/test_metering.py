"""A CLI run's gateway session: each call metered into the transcript with its price, the agent's token
limit refusing the next call, the fleet's budget refusing and stopping the run, the grant revoked."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx2
import pytest

from fake_llm import INPUT_TOKENS, OUTPUT_TOKENS, FakeLLMServer
from shipyard.agent import AgentLimits, AgentRun, ToolResult, role_tools
from shipyard.backends.dialect import CliSettings, Report
from shipyard.backends.metering import GatewaySession, RunHooks, upstream_for
from shipyard.domain import Role
from shipyard.gateway import Gateway
from shipyard.models.base import ModelResponse
from shipyard.models.pricing import Price

PRICE = Price(2.0, 10.0)  # per million tokens


class Log:
    def __init__(self) -> None:
        self.replies: list[ModelResponse] = []

    def model_called(self, run: AgentRun, step: int, response: ModelResponse) -> None:
        self.replies.append(response)

    def tool_called(
        self, run: AgentRun, step: int, name: str, args: dict[str, Any], result: ToolResult
    ) -> None:
        raise AssertionError("the gateway reports model calls only")


def _run(max_tokens: int) -> AgentRun:
    tools = role_tools(Role.WORKER, None, False)
    return AgentRun(Role.WORKER, "worker-1", "s", "p", tools, AgentLimits(max_tokens=max_tokens))


async def _calls(session: GatewaySession, n: int) -> list[httpx2.Response]:
    url = f"{session.endpoint.base_url}/v1/messages"
    headers = {"x-api-key": session.endpoint.token}
    async with httpx2.AsyncClient() as client:
        return [await client.post(url, json={"model": "m"}, headers=headers) for _ in range(n)]


def _session(server: FakeLLMServer, max_tokens: int, hooks: RunHooks) -> tuple[GatewaySession, Log]:
    settings = CliSettings(
        "claude", Path("claude"), "m", "ANTHROPIC_API_KEY", "real", server.url, price=PRICE
    )
    gateway = Gateway([upstream_for(settings, "anthropic", "a")])
    session = GatewaySession(gateway, "a", _run(max_tokens), Report())
    log = Log()
    session.observer, session.hooks, session.pricing = log, hooks, ("anthropic", settings)
    return session, log


async def _within(session: GatewaySession, n: int) -> list[httpx2.Response]:
    async with session:
        replies = await _calls(session, n)
    return replies


def test_each_call_is_metered_and_priced_and_the_token_limit_refuses_the_next() -> None:
    with FakeLLMServer() as server:
        session, log = _session(server, max_tokens=INPUT_TOKENS + OUTPUT_TOKENS + 1, hooks=RunHooks())
        replies = asyncio.run(_within(session, 3))
    assert [r.status_code for r in replies] == [200, 200, 403]
    assert "token limit" in replies[2].json()["error"]["message"] and len(server.requests) == 2
    cost = (INPUT_TOKENS * 2.0 + OUTPUT_TOKENS * 10.0) / 1e6
    assert [(r.usage.input_tokens, r.usage.output_tokens) for r in log.replies[:2]] == [(11, 7), (11, 7)]
    assert [r.cost_usd for r in log.replies[:2]] == pytest.approx([cost, cost])
    assert session.cost_usd == pytest.approx(2 * cost) and session.usage.total == 36
    assert log.replies[2].text.startswith("[gateway] call refused: this agent reached its token limit")
    assert session.refused.startswith("this agent")
    with pytest.raises(RuntimeError):  # the last grant is revoked: the gateway stopped
        _ = session.gateway.url


def test_a_budget_refusal_stops_the_run() -> None:
    stops: list[str] = []
    spent = {"usd": 0.0}
    budget = RunHooks(
        budget=lambda: "budget reached: $1.00 of $1.00" if spent["usd"] else "", stop=stops.append
    )
    with FakeLLMServer() as server:
        session, _ = _session(server, max_tokens=10_000, hooks=budget)

        async def two_runs() -> list[httpx2.Response]:
            async with session:
                first = await _calls(session, 1)
                spent["usd"] = 1.0
                return first + await _calls(session, 1)

        replies = asyncio.run(two_runs())
    assert [r.status_code for r in replies] == [200, 403] and len(server.requests) == 1
    assert stops == ["budget reached: $1.00 of $1.00"]
