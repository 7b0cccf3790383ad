"""Cache-stable compaction: the conversation's prefix changes once per compaction, not at every step."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from shipyard.agent import AgentLimits, AgentRun, Tool, run_agent
from shipyard.agent import context as agent_context
from shipyard.agent.context import TRIMMED, compact, size
from shipyard.domain import Role
from shipyard.models.base import Message
from shipyard.models.scripted import ScriptedModel, call, turn


def _conversation(outputs: int) -> list[Message]:
    messages = [Message("system", "s" * 100), Message("user", "u" * 100)]
    for i in range(outputs):
        messages.append(Message("assistant", "", (call("read_file", f"c{i}", path=f"f{i}"),)))
        messages.append(Message("tool", "o" * 1000, tool_call_id=f"c{i}"))
    return messages


def test_under_budget_nothing_changes() -> None:
    messages = _conversation(5)
    assert compact(messages, sum(size(m) for m in messages)) == messages


def test_past_the_budget_it_compacts_down_to_the_low_mark_in_one_step() -> None:
    messages = _conversation(10)
    budget = sum(size(m) for m in messages) - 1
    compacted = compact(messages, budget)
    assert sum(size(m) for m in compacted) <= 0.6 * budget
    assert [m.tool_call_id for m in compacted] == [m.tool_call_id for m in messages], "nothing removed"
    trimmed = [m for m in compacted if m.content == TRIMMED]
    assert trimmed and all(m.role == "tool" for m in trimmed)


def _prefix_changes(requests: list[tuple[Message, ...]]) -> int:
    """How many requests do not begin with the whole previous request (a cache rebuild each)."""
    return sum(1 for before, after in itertools.pairwise(requests) if after[: len(before)] != before)


def test_a_long_session_rebuilds_its_cache_once_per_compaction(
    monkeypatch: pytest.MonkeyPatch, echo: Tool
) -> None:
    monkeypatch.setattr(agent_context, "BUDGET_CHARS", 20_000)
    model = ScriptedModel(programs={Role.WORKER: lambda _: turn(call("echo", text="y" * 1_000))})
    run = AgentRun(Role.WORKER, "w1", "You are a worker.", "Do it.", (echo,), AgentLimits(max_steps=40))
    asyncio.run(run_agent(model, run))
    requests = [r.messages for r in model.calls]
    sizes = [sum(size(m) for m in r) for r in requests]
    compactions = sum(1 for a, b in itertools.pairwise(sizes) if b < a)
    assert len(requests) == 40 and max(sizes) <= 20_000 + 2_100
    # Each step adds about 2,000 chars; a compaction frees 40% of the budget, so one in four steps.
    assert 1 <= compactions <= 40 * 2_012 // 8_000, sizes
    assert _prefix_changes(requests) == compactions, "the prefix changed between compactions"
