"""Shared helpers for the agent tests: a recording observer and small fake tools."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from shipyard.agent import AgentRun, ToolResult
from shipyard.models.base import ModelResponse, ToolSpec


@dataclass
class Recorder:
    """An `Observer` that keeps everything it is told."""

    models: list[tuple[int, ModelResponse]] = field(default_factory=list)
    tools: list[tuple[int, str, dict[str, Any], ToolResult]] = field(default_factory=list)

    def model_called(self, run: AgentRun, step: int, response: ModelResponse) -> None:
        self.models.append((step, response))

    def tool_called(
        self, run: AgentRun, step: int, name: str, args: dict[str, Any], result: ToolResult
    ) -> None:
        self.tools.append((step, name, args, result))


class Echo:
    """Says back its `text` argument."""

    spec = ToolSpec(
        "echo",
        "Echo text.",
        {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    )

    async def run(self, args: dict[str, Any]) -> ToolResult:
        return ToolResult(args["text"])


class Slow:
    """Sleeps far longer than any test allows."""

    spec = ToolSpec("slow", "Sleep.", {"type": "object", "properties": {}})

    async def run(self, args: dict[str, Any]) -> ToolResult:
        await asyncio.sleep(30)
        return ToolResult("woke up")


class Broken:
    """Raises an unexpected exception."""

    spec = ToolSpec("broken", "Fail.", {"type": "object", "properties": {}})

    async def run(self, args: dict[str, Any]) -> ToolResult:
        raise RuntimeError("disk on fire")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def echo() -> Echo:
    return Echo()


@pytest.fixture
def slow() -> Slow:
    return Slow()


@pytest.fixture
def broken() -> Broken:
    return Broken()
