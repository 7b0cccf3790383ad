"""Usage read from replies as they stream through the gateway: cache tokens, chunk boundaries anywhere,
and a stream passed on event by event (the first event reaches the agent before the provider sends the
rest)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest

from fake_stream import sse
from shipyard.gateway import Call, Gateway, Meter, Upstream, api_of
from shipyard.gateway.usage import EventReader

START = {
    "type": "message_start",
    "message": {
        "id": "m",
        "model": "claude-x",
        "usage": {
            "input_tokens": 5,
            "cache_read_input_tokens": 1000,
            "cache_creation_input_tokens": 200,
            "cache_creation": {"ephemeral_5m_input_tokens": 150, "ephemeral_1h_input_tokens": 50},
            "output_tokens": 1,
        },
    },
}
DELTA = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 42}}
ANTHROPIC_STREAM = sse([("message_start", START), ("ping", {"type": "ping"}), ("message_delta", DELTA)])


def test_paths_name_the_metered_apis() -> None:
    assert api_of("/v1/messages") == "anthropic" and api_of("/v1/messages?beta=true") == "anthropic"
    assert api_of("/responses") == "responses" and api_of("/v1/chat/completions") == "chat"
    assert api_of("/v1/messages/count_tokens") is None and api_of("/v1/models") is None


@pytest.mark.parametrize("size", [1, 7, 64, len(ANTHROPIC_STREAM)])
def test_a_streamed_anthropic_reply_in_any_chunks_gives_all_tokens_with_cache(size: int) -> None:
    meter = Meter("anthropic")
    reader = EventReader(meter)
    body = ANTHROPIC_STREAM.replace(b"\n", b"\r\n")  # CRLF line ends, split anywhere
    for i in range(0, len(body), size):
        reader.feed(body[i : i + size])
    reader.close()
    t = meter.tally
    assert (t.input_tokens, t.output_tokens, t.cache_read_tokens, t.cache_write_tokens) == (
        1205,
        42,
        1000,
        200,
    )
    assert t.cache_write_1h_tokens == 50 and t.model == "claude-x"
    assert (t.usage.input_tokens, t.usage.output_tokens) == (1205, 42)


def test_openai_usage_counts_cached_tokens_as_input() -> None:
    responses = Meter("responses")
    usage = {
        "input_tokens": 900,
        "input_tokens_details": {"cached_tokens": 800},
        "output_tokens": 30,
        "output_tokens_details": {"reasoning_tokens": 20},
    }
    responses.event({"type": "response.created", "response": {"model": "gpt-x", "usage": None}})
    responses.event({"type": "response.completed", "response": {"model": "gpt-x", "usage": usage}})
    t = responses.tally
    assert (t.input_tokens, t.cache_read_tokens, t.output_tokens, t.reasoning_tokens) == (900, 800, 30, 20)
    chat = Meter("chat")
    reader = EventReader(chat)
    last = {"model": "gpt-x", "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 3}}
    reader.feed(b'data: {"model": "gpt-x", "choices": [], "usage": null}\n\n')
    reader.feed(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())
    assert chat.tally.usage.total == 15
    whole = Meter("anthropic")
    whole.body(json.dumps({"model": "c", "usage": {"input_tokens": 3, "output_tokens": 4}}).encode())
    assert whole.tally.usage.total == 7


class Trickle:
    """An upstream that sends the first event, then the rest only once `release` is set (or, when
    `breaks`, breaks off there without finishing the reply)."""

    def __init__(self, breaks: bool = False) -> None:
        self.release = threading.Event()
        trickle = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(ANTHROPIC_STREAM)))
                self.send_header("Connection", "close")
                self.end_headers()
                first, rest = ANTHROPIC_STREAM.split(b"\n\n", 1)
                self.wfile.write(first + b"\n\n")
                self.wfile.flush()
                trickle.release.wait(30)
                if not breaks:
                    self.wfile.write(rest)
                    self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def trickle() -> Iterator[Trickle]:
    yield Trickle()


def test_a_stream_passes_event_by_event_and_is_metered_at_its_end(trickle: Trickle) -> None:
    calls: list[Call] = []
    with trickle as url:
        gateway = Gateway([Upstream("claude", "anthropic", url, "real")])
        grant = gateway.grant("worker-1", "claude", calls.append, lambda: "")
        try:
            headers = {"x-api-key": grant.token}
            with httpx2.stream("POST", f"{grant.base_url}/v1/messages", json={}, headers=headers) as reply:
                chunks = reply.iter_raw()
                first = next(chunks)  # arrives while the provider still holds back the rest
                assert first.startswith(b"event: message_start")
                trickle.release.set()
                rest = b"".join(chunks)
        finally:
            gateway.revoke(grant)
    assert first + rest == ANTHROPIC_STREAM
    (call,) = calls
    assert call.streamed and (call.tally.input_tokens, call.tally.output_tokens) == (1205, 42)


def test_backoff_doubles_without_retry_after_and_resets_on_success() -> None:
    from shipyard.gateway import Backoff

    now = [100.0]
    backoff = Backoff(first_s=1.0, max_s=5.0, clock=lambda: now[0])
    assert [backoff.throttled("a", {}) for _ in range(4)] == [1.0, 2.0, 4.0, 5.0]
    assert backoff.wait_s("a") == 5.0 and backoff.wait_s("b") == 0.0  # per upstream
    assert backoff.throttled("a", {"Retry-After": "0.5"}) == 0.5
    assert backoff.wait_s("a") == 5.0  # a shorter wait never shortens one already promised
    now[0] += 5.0
    backoff.succeeded("a")
    assert backoff.wait_s("a") == 0.0 and backoff.throttled("a", {}) == 1.0


def test_a_reply_the_provider_breaks_off_is_cut_for_the_agent_and_billed_as_far_as_it_went() -> None:
    calls: list[Call] = []
    broken = Trickle(breaks=True)
    with broken as url:
        gateway = Gateway([Upstream("claude", "anthropic", url, "real")])
        grant = gateway.grant("worker-1", "claude", calls.append, lambda: "")
        broken.release.set()
        try:
            headers = {"x-api-key": grant.token}
            with pytest.raises(httpx2.RemoteProtocolError):  # a cut chunked body, not a clean end
                httpx2.post(f"{grant.base_url}/v1/messages", json={}, headers=headers)
        finally:
            gateway.revoke(grant)
    (call,) = calls
    assert call.status == 200 and (call.tally.input_tokens, call.tally.output_tokens) == (1205, 1)
