"""Our conversation in the Messages API's terms, with rolling prompt-cache breakpoints.

Breakpoints (`cache_control`, at most four per request) go on the system prompt (which caches the
tools before it), on the newest user turn (written to the cache) and on the user turn that was newest
one step earlier (read from the cache, wherever the lookback window would stop). The prefix of each
request up to a breakpoint is byte-for-byte the previous request's, so every step reads all the
earlier conversation from cache and writes only what it added.
"""

from __future__ import annotations

from typing import Any, cast

from anthropic.types import (
    CacheControlEphemeralParam,
    MessageParam,
    RedactedThinkingBlockParam,
    TextBlockParam,
    ThinkingBlockParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlockParam,
)
from anthropic.types import Usage as WireUsage

from shipyard.models.base import CacheTTL, Message, Reasoning, ToolSpec, Usage

Block = (
    TextBlockParam
    | ToolUseBlockParam
    | ToolResultBlockParam
    | ThinkingBlockParam
    | RedactedThinkingBlockParam
)
MAX_BREAKPOINTS = 4
_THINKING = frozenset({"thinking", "redacted_thinking"})


def cache_control(ttl: CacheTTL) -> CacheControlEphemeralParam | None:
    """The marker for `ttl`; None when caching is off. Five minutes is the API's default."""
    if ttl == "off":
        return None
    return {"type": "ephemeral", "ttl": "1h"} if ttl == "1h" else {"type": "ephemeral"}


def system_blocks(messages: tuple[Message, ...], ttl: CacheTTL) -> list[TextBlockParam]:
    """The system messages as one text block, marked for caching (with the tools before it)."""
    text = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
    if not text:
        return []
    block: TextBlockParam = {"type": "text", "text": text}
    mark = cache_control(ttl)
    if mark is not None:
        block["cache_control"] = mark
    return [block]


def tool_params(tools: tuple[ToolSpec, ...], ttl: CacheTTL, mark_last: bool) -> list[ToolParam]:
    """The tools; the last one is marked when there is no system prompt to carry the breakpoint."""
    params: list[ToolParam] = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
    ]
    mark = cache_control(ttl)
    if params and mark_last and mark is not None:
        params[-1]["cache_control"] = mark
    return params


def cached_messages(messages: tuple[Message, ...], ttl: CacheTTL) -> list[MessageParam]:
    """`wire_messages` with breakpoints on the newest user turn and on the one a step before it."""
    turns = wire_messages(messages)
    mark = cache_control(ttl)
    if mark is None:
        return turns
    users = [i for i, turn in enumerate(turns) if turn["role"] == "user"]
    for index in users[-2:]:
        _mark_last_block(turns[index], mark)
    return turns


def _mark_last_block(turn: MessageParam, mark: CacheControlEphemeralParam) -> None:
    blocks = cast(list[dict[str, Any]], turn["content"])
    for block in reversed(blocks):
        if block.get("type") not in _THINKING:  # the API refuses cache_control on thinking blocks
            block["cache_control"] = mark
            return


def wire_messages(messages: tuple[Message, ...]) -> list[MessageParam]:
    """Our conversation as alternating user/assistant turns of blocks; system messages go elsewhere."""
    turns: list[tuple[str, list[Block]]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue  # the API refuses empty turns
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)  # e.g. consecutive tool results form one user turn
        else:
            turns.append((role, blocks))
    return [_turn(role, blocks) for role, blocks in turns]


def _turn(role: str, blocks: list[Block]) -> MessageParam:
    if role == "assistant":
        return {"role": "assistant", "content": blocks}
    return {"role": "user", "content": blocks}


def _blocks(message: Message) -> list[Block]:
    if message.role == "tool":
        if message.tool_call_id is None:
            raise ValueError("a tool message needs the `tool_call_id` of the call it answers")
        result: ToolResultBlockParam = {"type": "tool_result", "tool_use_id": message.tool_call_id}
        if message.content:
            result["content"] = message.content
        return [result]
    # Thinking blocks come first and go back unchanged (signature included), as the API requires.
    blocks: list[Block] = [_thinking(r) for r in message.reasoning if r.provider == "anthropic"]
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
    return blocks


def _thinking(reasoning: Reasoning) -> Block:
    if reasoning.item.get("type") == "redacted_thinking":
        return cast(RedactedThinkingBlockParam, dict(reasoning.item))
    return cast(ThinkingBlockParam, dict(reasoning.item))


def wire_usage(usage: WireUsage) -> Usage:
    """Billed usage: the API counts cache reads and writes apart from `input_tokens`; ours include them."""
    read = usage.cache_read_input_tokens or 0
    write = usage.cache_creation_input_tokens or 0
    hour = usage.cache_creation.ephemeral_1h_input_tokens if usage.cache_creation else 0
    return Usage(
        usage.input_tokens + read + write,
        usage.output_tokens,
        cache_read_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=hour,
    )
