"""Streaming (server-sent events) and OpenAI Responses payloads for the fake LLM server.

Claude Code asks Anthropic Messages with `stream: true`; Codex speaks only the Responses API, streamed.
"""

from __future__ import annotations

import json
from typing import Any

Event = tuple[str, dict[str, Any]]


def sse(events: list[Event]) -> bytes:
    """Events as a `text/event-stream` body."""
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


def chat_sse(completion: dict[str, Any], include_usage: bool) -> bytes:
    """A Chat Completions reply as the `data:` chunks of a streamed one, ending with `[DONE]`."""
    choice = completion["choices"][0]
    message = choice["message"]
    base = {k: completion[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    if message.get("content"):
        text = message["content"]
        chunks += [chunk({"content": text[: len(text) // 2]}), chunk({"content": text[len(text) // 2 :]})]
    for i, call in enumerate(message.get("tool_calls") or []):
        head = {"index": i, "id": call["id"], "type": "function"}
        args = call["function"]["arguments"]
        chunks.append(
            chunk({"tool_calls": [{**head, "function": {"name": call["function"]["name"], "arguments": ""}}]})
        )
        for part in (args[: len(args) // 2], args[len(args) // 2 :]):
            chunks.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]}))
    chunks.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        chunks.append({**base, "choices": [], "usage": completion["usage"]})
    lines = [f"data: {json.dumps(c)}\n\n".encode() for c in chunks]
    return b"".join(lines) + b"data: [DONE]\n\n"


def anthropic_events(message: dict[str, Any]) -> list[Event]:
    """A complete Messages reply (as `_anthropic_json` builds it) as the stream of events it would be."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[Event] = [("message_start", {"type": "message_start", "message": start})]
    for i, block in enumerate(message["content"]):
        events += _anthropic_block(i, block)
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _anthropic_block(index: int, block: dict[str, Any]) -> list[Event]:
    if block["type"] == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        thought = {"type": "thinking_delta", "thinking": block["thinking"]}
        signed = {"type": "signature_delta", "signature": block["signature"]}
        return [
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}),
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": thought}),
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": signed}),
            ("content_block_stop", {"type": "content_block_stop", "index": index}),
        ]
    if block["type"] == "text":
        empty: dict[str, Any] = {"type": "text", "text": ""}
        delta: dict[str, Any] = {"type": "text_delta", "text": block["text"]}
    else:
        empty = {**block, "input": {}}
        raw = block["input"] if isinstance(block["input"], str) else json.dumps(block["input"])
        delta = {"type": "input_json_delta", "partial_json": raw}
    return [
        ("content_block_start", {"type": "content_block_start", "index": index, "content_block": empty}),
        ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


def responses_json(
    text: str, calls: list[tuple[str, str]], model: str, n: int, tokens: tuple[int, int]
) -> dict[str, Any]:
    """A Responses API `response` object: an assistant message and/or function calls `(name, arguments)`."""
    output: list[dict[str, Any]] = []
    if text:
        content = [{"type": "output_text", "text": text, "annotations": []}]
        output.append(
            {
                "type": "message",
                "id": f"msg_{n}",
                "role": "assistant",
                "status": "completed",
                "content": content,
            }
        )
    for i, (name, arguments) in enumerate(calls):
        output.append(
            {
                "type": "function_call",
                "id": f"fc_{n}_{i}",
                "call_id": f"call_{n}_{i}",
                "name": name,
                "arguments": arguments,
                "status": "completed",
            }
        )
    usage = {
        "input_tokens": tokens[0],
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": tokens[1],
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": sum(tokens),
    }
    return {
        "id": f"resp_{n}",
        "object": "response",
        "status": "completed",
        "model": model,
        "output": output,
        "usage": usage,
    }


def responses_events(response: dict[str, Any]) -> list[Event]:
    """A complete `response` as the stream of events Codex reads."""
    created = {**response, "status": "in_progress", "output": [], "usage": None}
    events: list[Event] = [("response.created", {"type": "response.created", "response": created})]
    for i, item in enumerate(response["output"]):
        events.append(
            (
                "response.output_item.added",
                {"type": "response.output_item.added", "output_index": i, "item": item},
            )
        )
        if item["type"] == "message" and item["content"]:
            delta = {
                "type": "response.output_text.delta",
                "output_index": i,
                "item_id": item["id"],
                "content_index": 0,
                "delta": item["content"][0]["text"],
            }
            events.append(("response.output_text.delta", delta))
        events.append(
            (
                "response.output_item.done",
                {"type": "response.output_item.done", "output_index": i, "item": item},
            )
        )
    end = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    events.append((end, {"type": end, "response": response}))
    return events
