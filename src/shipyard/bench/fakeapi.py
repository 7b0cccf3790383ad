"""A local stand-in for the Anthropic Messages and OpenAI Chat Completions APIs, on 127.0.0.1.

Replies come from a script; usage is what the provider would bill under its documented caching
rules (`cacherules`), so the real provider code can be measured over real HTTP without a key.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shipyard.bench.cacherules import AnthropicCache, OpenAICache, Refused, tokens


@dataclass(frozen=True)
class Reply:
    """One scripted turn: text and tool calls `(name, arguments as JSON)`."""

    text: str = ""
    calls: tuple[tuple[str, str], ...] = ()

    @property
    def output_tokens(self) -> int:
        return tokens(self.text + "".join(name + args for name, args in self.calls)) + 1


Script = Callable[[str, dict[str, Any]], Reply]


@dataclass
class FakeAPI:
    """The server's state: its caches, the clock they read, and every request body."""

    script: Script
    clock: Callable[[], float]
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.anthropic = AnthropicCache(self.clock)
        self.openai = OpenAICache(self.clock)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def answer(self, api: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, JSON payload) for one request; one at a time, as the caches are shared."""
        with self._lock:
            self.requests.append(body)
            n = next(self._ids)
            try:
                if api == "anthropic":
                    return 200, self._message(body, n)
                return 200, self._completion(body, n)
            except Refused as exc:
                return 400, {"type": "error", "error": {"type": "invalid_request_error", "message": str(exc)}}

    def _message(self, body: dict[str, Any], n: int) -> dict[str, Any]:
        usage = self.anthropic.usage(body)
        reply = self.script("anthropic", body)
        content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
        for i, (name, args) in enumerate(reply.calls):
            content.append(
                {"type": "tool_use", "id": f"toolu_{n}_{i}", "name": name, "input": json.loads(args)}
            )
        return {
            "id": f"msg_{n}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", ""),
            "content": content,
            "stop_reason": "tool_use" if reply.calls else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": usage.input_tokens,
                "cache_read_input_tokens": usage.cache_read_input_tokens,
                "cache_creation_input_tokens": usage.cache_creation_input_tokens,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": usage.cache_creation_input_tokens
                    - usage.ephemeral_1h_input_tokens,
                    "ephemeral_1h_input_tokens": usage.ephemeral_1h_input_tokens,
                },
                "output_tokens": reply.output_tokens,
            },
        }

    def _completion(self, body: dict[str, Any], n: int) -> dict[str, Any]:
        prompt, cached = self.openai.usage(body)
        reply = self.script("openai", body)
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.calls:
            message["tool_calls"] = [
                {"id": f"call_{n}_{i}", "type": "function", "function": {"name": name, "arguments": args}}
                for i, (name, args) in enumerate(reply.calls)
            ]
        finish = "tool_calls" if reply.calls else "stop"
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": reply.output_tokens,
            "total_tokens": prompt + reply.output_tokens,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
        return {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }


def message_events(message: dict[str, Any]) -> bytes:
    """A Messages reply as the server-sent events of a streamed one."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    for i, block in enumerate(message["content"]):
        if block["type"] == "text":
            empty: dict[str, Any] = {"type": "text", "text": ""}
            delta: dict[str, Any] = {"type": "text_delta", "text": block["text"]}
        else:
            empty = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events += [
            ("content_block_start", {"type": "content_block_start", "index": i, "content_block": empty}),
            ("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": i}),
        ]
    stop = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    events.append(("message_delta", {"type": "message_delta", "delta": stop, "usage": usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


def chunk_events(completion: dict[str, Any]) -> bytes:
    """A Chat Completions reply as the chunks of a streamed one (usage last, as `include_usage` asks)."""
    base = {k: completion[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    choice = completion["choices"][0]
    message = choice["message"]
    delta: dict[str, Any] = {"role": "assistant", "content": message["content"]}
    if message.get("tool_calls"):
        delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
    chunks = [
        {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]},
        {**base, "choices": [], "usage": completion["usage"]},
    ]
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


class FakeAPIServer:
    """`FakeAPI` served over HTTP on 127.0.0.1 (a free port) while the context is open."""

    def __init__(self, api: FakeAPI) -> None:
        self.api = api
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeAPIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


def _handler(api: FakeAPI) -> type[BaseHTTPRequestHandler]:
    routes = {"/v1/messages": "anthropic", "/v1/chat/completions": "openai"}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            route = routes.get(self.path.split("?")[0])
            if route is None:
                self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}).encode(), False)
                return
            status, payload = api.answer(route, body)
            if status == 200 and body.get("stream"):
                events = message_events if route == "anthropic" else chunk_events
                self._send(status, events(payload), True)
            else:
                self._send(status, json.dumps(payload).encode(), False)

        def _send(self, status: int, data: bytes, stream: bool) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/event-stream" if stream else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
