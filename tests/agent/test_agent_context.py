"""Context trimming and argument checks: the pure parts of the loop."""

from __future__ import annotations

from shipyard.agent.context import TRIMMED, size, trim
from shipyard.agent.tool import check_args, schema
from shipyard.models.base import Message, ToolSpec
from shipyard.models.scripted import call


def conversation() -> list[Message]:
    messages = [Message("system", "s" * 100), Message("user", "u" * 100)]
    for i in range(3):
        messages.append(Message("assistant", "", (call("write_file", f"c{i}", path="a", content="w" * 300),)))
        messages.append(Message("tool", "o" * 1000, tool_call_id=f"c{i}"))
    return messages


def test_under_budget_nothing_changes() -> None:
    messages = conversation()
    assert trim(messages, 100_000) == messages


def test_oldest_tool_outputs_go_first() -> None:
    messages = conversation()
    total = sum(size(m) for m in messages)
    trimmed = trim(messages, total - 500)
    assert [m.content for m in trimmed if m.role == "tool"] == [TRIMMED, "o" * 1000, "o" * 1000]
    assert trimmed[:2] == messages[:2]
    assert [m.tool_call_id for m in trimmed] == [m.tool_call_id for m in messages]


def test_then_long_arguments_but_never_the_head_or_the_last_message() -> None:
    trimmed = trim(conversation(), 0)
    assert trimmed[0].content == "s" * 100 and trimmed[1].content == "u" * 100
    assert [m.content for m in trimmed if m.role == "tool"] == [TRIMMED, TRIMMED, "o" * 1000]
    for message in trimmed[2::2]:
        assert message.tool_calls[0].arguments == {"path": "a", "content": TRIMMED}
        assert message.tool_calls[0].name == "write_file"


SPEC = ToolSpec(
    "t",
    "test",
    schema(
        {
            "name": {"type": "string"},
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "paths": {"type": "array", "items": {"type": "string"}},
            "free": {},
        },
        ("name",),
    ),
)


def test_check_args() -> None:
    assert (
        check_args(SPEC, {"name": "x", "count": 2, "ratio": 1, "paths": ["a"], "free": [1], "extra": 1})
        is None
    )
    assert check_args(SPEC, {}) == "`t` needs the argument `name`"
    assert check_args(SPEC, {"name": None}) == "`t` needs the argument `name`"
    assert (
        check_args(SPEC, {"name": "x", "count": True})
        == "`t`: argument `count` must be an integer, got boolean"
    )
    assert (
        check_args(SPEC, {"name": "x", "count": 1.5})
        == "`t`: argument `count` must be an integer, got number"
    )
    assert (
        check_args(SPEC, {"name": "x", "paths": "a"}) == "`t`: argument `paths` must be an array, got string"
    )
    assert (
        check_args(SPEC, {"name": "x", "paths": ["a", 2]})
        == "`t`: argument `paths` item 1 must be a string, got integer"
    )
