"""Fixtures for provider tests: a fake LLM server on 127.0.0.1 and real SDK clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fake_llm import FakeLLMServer
from shipyard.models.base import Message, ModelRequest, ToolCall, ToolSpec


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


READ_FILE = ToolSpec(
    name="read_file",
    description="Read a file of the repository.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)


@pytest.fixture
def tool_request() -> ModelRequest:
    """A conversation in the middle of a tool loop: two calls answered, the model to go on."""
    return ModelRequest(
        messages=(
            Message("system", "You are a worker."),
            Message("user", "Fix the bug."),
            Message(
                "assistant",
                "Reading both files.",
                tool_calls=(
                    ToolCall("c1", "read_file", {"path": "a.py"}),
                    ToolCall("c2", "read_file", {"path": "b.py"}),
                ),
            ),
            Message("tool", "print(1)", tool_call_id="c1"),
            Message("tool", "print(2)", tool_call_id="c2"),
        ),
        tools=(READ_FILE,),
        max_output_tokens=1000,
    )
