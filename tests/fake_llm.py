"""A fake LLM server on 127.0.0.1 speaking OpenAI Chat Completions, Anthropic Messages and OpenAI Responses.

    with FakeLLMServer(lambda api, body: FakeReply(text="hi")) as server:
        client = openai.AsyncOpenAI(api_key="k", base_url=server.openai_base_url)

`api` is "openai", "anthropic" or "responses". Every request body is recorded in `server.requests`.
A request with `"stream": true` (Messages, Responses) gets the same reply as server-sent events.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fake_stream import anthropic_events, chat_sse, responses_events, responses_json, sse

INPUT_TOKENS = 11
MAX_CACHE_CONTROLS = 4
OUTPUT_TOKENS = 7
_PATHS = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic", "/v1/responses": "responses"}
_RESULT_TYPES = frozenset({"function_call_output", "custom_tool_call_output"})


@dataclass
class FakeReply:
    """One turn: text and/or tool calls `(name, arguments)`; a `status` >= 400 sends an error instead."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # Sent verbatim as every tool call's arguments (OpenAI) or input (Anthropic, parsed if it is JSON).
    raw_arguments: str | None = None
    # Prompt tokens served from / written to the cache (counted inside `input_tokens` as OpenAI does).
    cache_read: int = 0
    cache_write: int = 0
    input_tokens: int = INPUT_TOKENS
    # The reply was stopped by the output limit (`length` / `max_tokens` / `incomplete`).
    cut: bool = False
    # Reasoning sent ahead of the reply: an Anthropic thinking block or a Responses reasoning item.
    reasoning: str = ""
    # Streamed replies: send the first event, then wait for this event before sending the rest.
    stall: threading.Event | None = None


Responder = Callable[[str, dict[str, Any]], FakeReply]


def count_tool_results(api: str, body: dict[str, Any]) -> int:
    """How many tool results the conversation in a request body holds."""
    if api == "openai":
        return sum(1 for m in body.get("messages", []) if m.get("role") == "tool")
    if api == "responses":
        items = body.get("input", [])
        return sum(1 for m in items if isinstance(m, dict) and m.get("type") in _RESULT_TYPES)
    return sum(
        1
        for m in body.get("messages", [])
        if isinstance(m.get("content"), list)
        for block in m["content"]
        if block.get("type") == "tool_result"
    )


class FakeLLMServer:
    """A threaded HTTP server answering each request with `responder(api, body)`."""

    def __init__(self, responder: Responder | None = None) -> None:
        self.responder: Responder = responder or (lambda api, body: FakeReply(text="ok"))
        self._requests: list[dict[str, Any]] = []
        self._headers: list[dict[str, str]] = []
        self.errors: list[BaseException] = []  # exceptions raised by the responder (sent as 500s)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._requests)

    @property
    def request_headers(self) -> list[dict[str, str]]:
        with self._lock:
            return list(self._headers)

    def start(self) -> FakeLLMServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(
        self, api: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[FakeReply, dict[str, Any]]:
        """Record a request and build the reply and its JSON payload."""
        with self._lock:
            self._requests.append(body)
            self._headers.append(headers)
        refused = refusal(api, body)
        if refused is not None:
            return FakeReply(text=refused, status=400), _error_json(api, FakeReply(text=refused, status=400))
        try:
            reply = self.responder(api, body)
        except Exception as exc:
            self.errors.append(exc)
            reply = FakeReply(text=f"responder failed: {exc!r}", status=500)
        if reply.status >= 400:
            return reply, _error_json(api, reply)
        n = next(self._ids)
        build = {"openai": _openai_json, "anthropic": _anthropic_json, "responses": _responses_json}[api]
        return reply, build(reply, body.get("model", ""), n)


def refusal(api: str, body: dict[str, Any]) -> str | None:
    """What the real API answers 400 to, as far as the fake knows it."""
    if api == "responses":
        return _responses_refusal(body)
    if api != "anthropic":
        return None
    marks = count_cache_controls(body)
    if marks > MAX_CACHE_CONTROLS:
        return f"A maximum of {MAX_CACHE_CONTROLS} blocks with cache_control may be provided. Found {marks}."
    if body.get("thinking"):
        return _thinking_refusal(body)
    return None


def _thinking_refusal(body: dict[str, Any]) -> str | None:
    """With thinking on, the last assistant turn of a tool loop must start with its thinking block.

    Checked only in conversations where thinking blocks were sent back at all: the fake writes them
    only when a reply asks for them, while the real API always would.
    """
    budget = body["thinking"].get("budget_tokens")
    if budget is not None and budget >= body["max_tokens"]:
        return "`max_tokens` must be greater than `thinking.budget_tokens`"
    turns = [m for m in body.get("messages", []) if m.get("role") == "assistant"]
    turns = [t for t in turns if isinstance(t.get("content"), list)]
    thinking = any(b.get("type") in ("thinking", "redacted_thinking") for t in turns for b in t["content"])
    if not turns or not thinking:
        return None
    blocks = turns[-1]["content"]
    uses_tools = any(b.get("type") == "tool_use" for b in blocks)
    if uses_tools and blocks[0].get("type") not in ("thinking", "redacted_thinking"):
        return f"messages: Expected `thinking` or `redacted_thinking`, but found `{blocks[0].get('type')}`."
    return None


def _responses_refusal(body: dict[str, Any]) -> str | None:
    """Stateless use (`store: false`): every output needs its call, every reasoning item its content."""
    items = [i for i in body.get("input", []) if isinstance(i, dict)]
    calls = {i.get("call_id") for i in items if i.get("type") == "function_call"}
    for item in items:
        if item.get("type") == "function_call_output" and item.get("call_id") not in calls:
            return f"No tool call found for function call output with call_id {item.get('call_id')}."
        if (
            item.get("type") == "reasoning"
            and body.get("store") is False
            and not item.get("encrypted_content")
        ):
            return (
                f"Item with id '{item.get('id')}' not found. Items are not persisted when `store` is false."
            )
    return None


def count_cache_controls(body: dict[str, Any]) -> int:
    """Blocks of a Messages request (tools, system, message content) that carry `cache_control`."""
    blocks: list[Any] = list(body.get("tools") or [])
    system = body.get("system")
    blocks += system if isinstance(system, list) else []
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks += content if isinstance(content, list) else []
    return sum(1 for b in blocks if isinstance(b, dict) and "cache_control" in b)


def _openai_json(reply: FakeReply, model: str, n: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{n}_{i}",
                "type": "function",
                "function": {"name": name, "arguments": _arguments(reply, args)},
            }
            for i, (name, args) in enumerate(reply.tool_calls)
        ]
    usage = {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": OUTPUT_TOKENS,
        "prompt_tokens_details": {"cached_tokens": reply.cache_read},
    }
    finish = "length" if reply.cut else "tool_calls" if reply.tool_calls else "stop"
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {**usage, "total_tokens": reply.input_tokens + OUTPUT_TOKENS},
    }


def _anthropic_json(reply: FakeReply, model: str, n: int) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.reasoning:
        content.append({"type": "thinking", "thinking": reply.reasoning, "signature": f"sig-{n}"})
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    for i, (name, args) in enumerate(reply.tool_calls):
        raw = _arguments(reply, args)
        try:
            tool_input = json.loads(raw)
        except ValueError:
            tool_input = raw
        content.append({"type": "tool_use", "id": f"toolu_{n}_{i}", "name": name, "input": tool_input})
    return {
        "id": f"msg_{n}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "max_tokens" if reply.cut else "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": reply.input_tokens - reply.cache_read - reply.cache_write,
            "cache_read_input_tokens": reply.cache_read,
            "cache_creation_input_tokens": reply.cache_write,
            "output_tokens": OUTPUT_TOKENS,
        },
    }


def _responses_json(reply: FakeReply, model: str, n: int) -> dict[str, Any]:
    calls = [(name, _arguments(reply, args)) for name, args in reply.tool_calls]
    payload = responses_json(reply.text, calls, model, n, (reply.input_tokens, OUTPUT_TOKENS))
    if reply.reasoning:
        summary = [{"type": "summary_text", "text": reply.reasoning}]
        item = {"type": "reasoning", "id": f"rs_{n}", "summary": summary, "encrypted_content": f"enc-{n}"}
        payload["output"].insert(0, item)
    payload["usage"]["input_tokens_details"]["cached_tokens"] = reply.cache_read
    if reply.cut:
        payload["status"] = "incomplete"
        payload["incomplete_details"] = {"reason": "max_output_tokens"}
    return payload


def _stream_body(api: str, payload: dict[str, Any], body: dict[str, Any]) -> bytes:
    """A successful reply as server-sent events."""
    if api == "openai":
        return chat_sse(payload, bool((body.get("stream_options") or {}).get("include_usage")))
    return sse(anthropic_events(payload) if api == "anthropic" else responses_events(payload))


def _arguments(reply: FakeReply, args: dict[str, Any]) -> str:
    return reply.raw_arguments if reply.raw_arguments is not None else json.dumps(args)


def _error_json(api: str, reply: FakeReply) -> dict[str, Any]:
    message = reply.text or f"fake error {reply.status}"
    if api in ("openai", "responses"):
        return {"error": {"message": message, "type": "fake_error", "code": str(reply.status)}}
    return {"type": "error", "error": {"type": "fake_error", "message": message}}


def _handler_for(server: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            api = _PATHS.get(self.path.split("?")[0])
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if api is None:
                self._send(404, {"error": {"message": f"no route {self.path}"}}, {})
                return
            reply, payload = server.answer(api, body, {k.lower(): v for k, v in self.headers.items()})
            if body.get("stream") and reply.status < 400:
                self._send(200, payload, reply.headers, _stream_body(api, payload, body), reply.stall)
                return
            self._send(reply.status, payload, reply.headers)

        def do_HEAD(self) -> None:
            self.send_response(200)  # Claude Code checks that the base URL answers
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _send(
            self,
            status: int,
            payload: dict[str, Any],
            headers: dict[str, str],
            stream: bytes | None = None,
            stall: threading.Event | None = None,
        ) -> None:
            data = json.dumps(payload).encode() if stream is None else stream
            kind = "application/json" if stream is None else "text/event-stream"
            headers = {"Content-Type": kind, "Content-Length": str(len(data)), **headers}
            first = data.index(b"\n\n") + 2 if stall is not None else len(data)
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data[:first])
                self.wfile.flush()
                if stall is not None:
                    stall.wait()
                    self.wfile.write(data[first:])
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to tell it

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler
