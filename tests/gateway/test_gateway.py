"""The model gateway over real HTTP on 127.0.0.1: token auth, the real key upstream only, streamed
replies passed through and metered, budget refusals, and one shared backoff after a 429."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from fake_llm import INPUT_TOKENS, OUTPUT_TOKENS, FakeLLMServer, FakeReply
from shipyard.gateway import Call, Gateway, Upstream

REAL_KEY = "sk-ant-real-key-never-shown-0123456789"


class Calls:
    """Collects the gateway's reports (they come from its own thread)."""

    def __init__(self) -> None:
        self.items: list[Call] = []
        self.done = threading.Event()

    def __call__(self, call: Call) -> None:
        self.items.append(call)
        self.done.set()


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(lambda api, body: FakeReply(text="hi there")) as fake:
        yield fake


def _gateway(server: FakeLLMServer) -> Gateway:
    return Gateway(
        [
            Upstream("anthropic", "anthropic", server.anthropic_base_url, REAL_KEY),
            Upstream("openai", "openai", server.openai_base_url, REAL_KEY),
        ]
    )


def test_a_streamed_claude_call_reaches_the_provider_with_the_real_key_only(server: FakeLLMServer) -> None:
    gateway, calls = _gateway(server), Calls()
    grant = gateway.grant("worker-1", "anthropic", calls, lambda: "")
    try:
        client = anthropic.Anthropic(base_url=grant.base_url, api_key=grant.token, max_retries=0)
        messages: Any = [{"role": "user", "content": "hi"}]
        with client, client.messages.stream(model="claude-x", max_tokens=10, messages=messages) as stream:
            text = "".join(stream.text_stream)
    finally:
        gateway.revoke(grant)
    assert text == "hi there"
    (headers,) = server.request_headers
    assert headers["x-api-key"] == REAL_KEY and grant.token not in str(headers)
    (call,) = calls.items
    assert call.streamed and call.status == 200 and call.agent == "worker-1"
    assert (call.tally.input_tokens, call.tally.output_tokens) == (INPUT_TOKENS, OUTPUT_TOKENS)


def test_openai_responses_streamed_and_chat_completions_are_metered(server: FakeLLMServer) -> None:
    gateway, calls = _gateway(server), Calls()
    grant = gateway.grant("worker-2", "openai", calls, lambda: "")
    try:
        with openai.OpenAI(base_url=grant.base_url, api_key=grant.token, max_retries=0) as client:
            events = list(client.responses.create(model="gpt-x", input="hi", stream=True))
            chat = client.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "hi"}])
    finally:
        gateway.revoke(grant)
    assert events[-1].type == "response.completed" and chat.choices[0].message.content == "hi there"
    assert [h["authorization"] for h in server.request_headers] == [f"Bearer {REAL_KEY}"] * 2
    assert [(c.api, c.streamed, c.tally.usage.total) for c in calls.items] == [
        ("responses", True, INPUT_TOKENS + OUTPUT_TOKENS),
        ("chat", False, INPUT_TOKENS + OUTPUT_TOKENS),
    ]


def _post(url: str, token: str) -> httpx2.Response:
    return httpx2.post(f"{url}/v1/messages", headers={"x-api-key": token}, json={"model": "m"}, timeout=10)


def test_only_live_tokens_of_the_right_upstream_pass(server: FakeLLMServer) -> None:
    gateway, calls = _gateway(server), Calls()
    keep = gateway.grant("worker-1", "anthropic", calls, lambda: "")
    gone = gateway.grant("worker-2", "anthropic", calls, lambda: "")
    other = gateway.grant("worker-3", "openai", calls, lambda: "")
    gateway.revoke(gone)
    try:
        assert _post(keep.base_url, keep.token).status_code == 200
        for token in (gone.token, "", REAL_KEY, other.token):
            reply = _post(keep.base_url, token)
            assert reply.status_code == 401 and "unknown or expired token" in reply.text
        assert _post(f"{gateway.url}/nowhere", keep.token).status_code == 404
    finally:
        gateway.revoke(keep)
        gateway.revoke(other)
    assert len(server.requests) == 1
    with pytest.raises(httpx2.ConnectError):  # the last revocation stopped the gateway
        _post(keep.base_url, keep.token)


def test_a_refused_call_never_reaches_the_provider(server: FakeLLMServer) -> None:
    gateway, calls = _gateway(server), Calls()
    grant = gateway.grant("worker-1", "anthropic", calls, lambda: "budget reached: $1.0000 of $1.00")
    try:
        with (
            anthropic.Anthropic(base_url=grant.base_url, api_key=grant.token, max_retries=0) as client,
            pytest.raises(anthropic.PermissionDeniedError, match=r"budget reached: \$1.0000 of \$1.00"),
        ):
            client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    finally:
        gateway.revoke(grant)
    assert server.requests == [] and calls.items[0].refused.startswith("budget reached")


class RateLimitedOnce:
    """Answers the first call with a 429 (retry after 300 ms) and records when each call arrived."""

    def __init__(self) -> None:
        self.arrived: list[float] = []

    def __call__(self, api: str, body: dict[str, Any]) -> FakeReply:
        self.arrived.append(time.monotonic())
        if len(self.arrived) == 1:
            return FakeReply(status=429, headers={"retry-after-ms": "300"})
        return FakeReply(text="ok")


def test_one_429_holds_every_agents_next_call_to_that_provider() -> None:
    limited = RateLimitedOnce()
    with FakeLLMServer(limited) as fake:
        gateway, calls = _gateway(fake), Calls()
        first = gateway.grant("worker-1", "openai", calls, lambda: "")
        second = gateway.grant("worker-2", "openai", calls, lambda: "")
        try:
            client = openai.OpenAI(base_url=first.base_url, api_key=first.token, max_retries=0)
            with client, pytest.raises(openai.RateLimitError):
                client.chat.completions.create(model="m", messages=[])
            with openai.OpenAI(base_url=second.base_url, api_key=second.token, max_retries=0) as other:
                other.chat.completions.create(model="m", messages=[])
        finally:
            gateway.revoke(first)
            gateway.revoke(second)
    assert limited.arrived[1] - limited.arrived[0] >= 0.3  # worker-2 never saw the 429, yet it waited
    assert [c.status for c in calls.items] == [429, 200]
