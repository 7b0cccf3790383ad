"""Vendor failures become one-line `ModelError`s, retryable or not, for both providers."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import anthropic
import openai
import pytest

from fake_llm import FakeLLMServer, FakeReply
from shipyard.errors import ModelError
from shipyard.models.anthropic import AnthropicModel
from shipyard.models.base import Message, Model, ModelRequest
from shipyard.models.openai import OpenAIModel

PROVIDERS = ["openai", "anthropic"]
REQUEST = ModelRequest(messages=(Message("user", "hi"),))


def call(provider: str, base_url: str, timeout_s: float = 5.0) -> ModelError:
    """Call the model once, with no SDK retries, and return the `ModelError` it raised."""

    async def go() -> None:
        client: Any
        model: Model
        if provider == "openai":
            client = openai.AsyncOpenAI(
                api_key="k", base_url=f"{base_url}/v1", max_retries=0, timeout=timeout_s
            )
            model = OpenAIModel("gpt-4o", client)
        else:
            client = anthropic.AsyncAnthropic(
                api_key="k", base_url=base_url, max_retries=0, timeout=timeout_s
            )
            model = AnthropicModel("claude-sonnet-4-6", client)
        async with client:
            await model.complete(REQUEST)

    with pytest.raises(ModelError) as info:
        asyncio.run(go())
    return info.value


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("status", "retryable", "fix"),
    [
        (400, False, "bad request (400)"),
        (401, False, "authentication failed (401) for model"),
        (403, False, "permission denied (403)"),
        (404, False, "check the model name"),
        (429, True, "rate limited (429)"),
        (500, True, "server error (500)"),
        (503, True, "server error (503)"),
    ],
)
def test_http_errors_map_to_model_error(
    server: FakeLLMServer, provider: str, status: int, retryable: bool, fix: str
) -> None:
    server.responder = lambda api, body: FakeReply(text="nope\nsecond line", status=status)

    error = call(provider, server.url)

    assert error.retryable is retryable
    assert str(error).startswith(f"{provider}: ")
    assert fix in str(error)
    assert "\n" not in str(error)
    assert len(server.requests) == 1  # max_retries=0: the SDK did not retry behind our back


@pytest.mark.parametrize(
    ("provider", "key_env"), [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")]
)
def test_auth_error_names_the_key_and_the_vendor_message(
    server: FakeLLMServer, provider: str, key_env: str
) -> None:
    server.responder = lambda api, body: FakeReply(text="Incorrect API key provided", status=401)

    error = call(provider, server.url)

    assert f"— check {key_env} [Incorrect API key provided]" in str(error)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_timeout_is_retryable(server: FakeLLMServer, provider: str) -> None:
    release = threading.Event()

    def stuck(api: str, body: dict[str, Any]) -> FakeReply:
        release.wait(5)
        return FakeReply(text="too late")

    server.responder = stuck
    try:
        error = call(provider, server.url, timeout_s=0.2)
    finally:
        release.set()

    assert error.retryable
    assert "timed out" in str(error)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_connection_refused_is_retryable(provider: str) -> None:
    with FakeLLMServer() as gone:
        url = gone.url

    error = call(provider, url)

    assert error.retryable
    assert f"cannot connect to {url}" in str(error)
