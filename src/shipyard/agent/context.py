"""Context compaction: keep the conversation under a character budget by emptying old tool outputs.

Providers cache a conversation's prefix, and any change to an old message invalidates the cache from
that message on. So the conversation is left alone until it passes its budget, then compacted in one
step down to a low mark (60% of the budget): the prefix changes once per compaction, not at every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from shipyard.models.base import Message, ToolCall

BUDGET_CHARS = 400_000
LOW_MARK = 0.6  # a compaction goes down to this share of the budget
TRIMMED = "[trimmed]"
_KEEP_HEAD = 2  # the system message and the first user message are never touched
_LONG_ARG_CHARS = 200


def size(message: Message) -> int:
    """Characters a message costs: its text and its tool calls' arguments."""
    return len(message.content) + sum(len(repr(call.arguments)) for call in message.tool_calls)


def compact(
    messages: Sequence[Message], budget_chars: int = BUDGET_CHARS, low_mark: float = LOW_MARK
) -> list[Message]:
    """`messages` unchanged while they fit `budget_chars`; past it, trimmed in one go to the low mark."""
    if sum(size(m) for m in messages) <= budget_chars:
        return list(messages)
    return trim(messages, int(budget_chars * low_mark))


def trim(messages: Sequence[Message], budget_chars: int = BUDGET_CHARS) -> list[Message]:
    """Empty the oldest tool outputs, then old long tool arguments, until the total fits the budget.

    Messages are never removed, so every tool call keeps its result; the system message, the first
    user message and the last message stay whole.
    """
    out = list(messages)
    total = sum(size(m) for m in out)
    for shrink in (_trim_output, _trim_arguments):
        for index in range(_KEEP_HEAD, len(out) - 1):
            if total <= budget_chars:
                return out
            old = out[index]
            out[index] = shrink(old)
            total += size(out[index]) - size(old)
    return out


def _trim_output(message: Message) -> Message:
    if message.role != "tool" or message.content == TRIMMED:
        return message
    return replace(message, content=TRIMMED)


def _trim_arguments(message: Message) -> Message:
    if not message.tool_calls:
        return message
    return replace(message, tool_calls=tuple(_trim_call(call) for call in message.tool_calls))


def _trim_call(call: ToolCall) -> ToolCall:
    arguments = {key: _short(value) for key, value in call.arguments.items()}
    return replace(call, arguments=arguments)


def _short(value: Any) -> Any:
    return TRIMMED if isinstance(value, str) and len(value) > _LONG_ARG_CHARS else value
