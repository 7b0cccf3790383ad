"""Model strings, provider readiness checks, and models built from settings against the fake server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fake_llm import FakeLLMServer, FakeReply
from shipyard.errors import ConfigError, ModelError
from shipyard.models.anthropic import AnthropicModel
from shipyard.models.base import Message, Model, ModelRequest, ModelResponse
from shipyard.models.factory import (
    PLACEHOLDER_KEY,
    ModelRef,
    ProviderSettings,
    build_provider_model,
    check_provider_ready,
    parse_model_string,
)
from shipyard.models.openai import OpenAIModel

REQUEST = ModelRequest(messages=(Message("user", "hi"),))
GPT = ModelRef("openai", "gpt-5.2")


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("openai:gpt-5.2", ModelRef("openai", "gpt-5.2")),
        ("anthropic:claude-sonnet-4-6", ModelRef("anthropic", "claude-sonnet-4-6")),
        ("openai:llama3.1:8b", ModelRef("openai", "llama3.1:8b")),
        (" OpenAI:gpt-4o ", ModelRef("openai", "gpt-4o")),
        ("scripted:demo", ModelRef("scripted", "demo")),
        ("scripted:runs/turns.json", ModelRef("scripted", "runs/turns.json")),
        ("sim", ModelRef("sim", "default")),
        ("sim:fast", ModelRef("sim", "fast")),
    ],
)
def test_parse_good_model_strings(text: str, ref: ModelRef) -> None:
    assert parse_model_string(text) == ref


def test_model_ref_prints_as_its_string() -> None:
    assert str(GPT) == "openai:gpt-5.2"


@pytest.mark.parametrize("text", ["gpt-4o", "gemini:pro", "openai:", "openai: ", ""])
def test_parse_bad_model_strings(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_model_string(text)

    assert str(info.value) == (
        f"unknown model string `{text}`; expected PROVIDER:MODEL with provider one of "
        "openai, openai-responses, anthropic, scripted, sim (e.g. openai:gpt-5.2)"
    )


def test_parse_scripted_needs_demo_or_json() -> None:
    with pytest.raises(ConfigError, match=r"scripted:demo or scripted:PATH\.json"):
        parse_model_string("scripted:whatever")


def test_missing_key_names_the_variable_and_the_fix() -> None:
    with pytest.raises(ConfigError) as info:
        check_provider_ready(GPT, ProviderSettings(), {})

    assert str(info.value) == (
        "OPENAI_API_KEY is not set (needed for model `openai:gpt-5.2`); export it, "
        "or set `api_key_env` under [providers.openai] in shipyard.toml"
    )


def test_missing_custom_key_env_names_it() -> None:
    ref = ModelRef("anthropic", "claude-sonnet-4-6")

    with pytest.raises(ConfigError, match=r"^MY_CLAUDE_KEY is not set .*providers\.anthropic"):
        check_provider_ready(ref, ProviderSettings(api_key_env="MY_CLAUDE_KEY"), {"ANTHROPIC_API_KEY": "k"})


@pytest.mark.parametrize(
    ("settings", "env"),
    [
        (ProviderSettings(), {"OPENAI_API_KEY": "sk-1"}),
        (ProviderSettings(api_key_env="MY_KEY"), {"MY_KEY": "sk-1"}),
        (ProviderSettings(base_url="http://127.0.0.1:8000/v1"), {}),
        (ProviderSettings(), {"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}),
    ],
)
def test_ready_with_a_key_or_a_base_url(settings: ProviderSettings, env: dict[str, str]) -> None:
    check_provider_ready(GPT, settings, env)


def test_scripted_and_sim_need_no_check_and_are_not_built_here() -> None:
    check_provider_ready(ModelRef("scripted", "demo"), ProviderSettings(), {})
    with pytest.raises(ValueError, match="scripted:demo"):
        build_provider_model(ModelRef("scripted", "demo"), ProviderSettings(), {})


def run(model: Model) -> ModelResponse:
    async def go() -> ModelResponse:
        try:
            return await model.complete(REQUEST)
        finally:
            assert isinstance(model, OpenAIModel | AnthropicModel)
            await model.aclose()

    return asyncio.run(go())


def test_openai_against_a_local_server_without_a_key(server: FakeLLMServer) -> None:
    env = {"OPENAI_BASE_URL": server.openai_base_url}
    model = build_provider_model(ModelRef("openai", "gpt-4o"), ProviderSettings(), env)

    response = run(model)

    assert model.name == "openai-compatible:gpt-4o"
    assert response.text == "ok"
    assert response.cost_usd == 0.0  # a local model is not billed as OpenAI's model of the same name
    assert server.request_headers[0]["authorization"] == f"Bearer {PLACEHOLDER_KEY}"


def test_anthropic_with_key_and_settings_base_url(server: FakeLLMServer) -> None:
    settings = ProviderSettings(base_url=server.anthropic_base_url, api_key_env="MY_KEY")
    model = build_provider_model(ModelRef("anthropic", "claude-sonnet-4-6"), settings, {"MY_KEY": "sk-ant-1"})

    response = run(model)

    assert model.name == "anthropic:claude-sonnet-4-6"
    assert response.cost_usd > 0
    # anthropic 2.x sends the API key as a bearer token, not as `x-api-key`
    assert server.request_headers[0]["authorization"] == "Bearer sk-ant-1"


@pytest.mark.parametrize(("max_retries", "attempts"), [(0, 1), (1, 2)])
def test_max_retries_setting_reaches_the_sdk(server: FakeLLMServer, max_retries: int, attempts: int) -> None:
    def fail(api: str, body: dict[str, Any]) -> FakeReply:
        return FakeReply(status=500, headers={"retry-after-ms": "1"})

    server.responder = fail
    settings = ProviderSettings(base_url=server.openai_base_url, max_retries=max_retries)
    model = build_provider_model(GPT, settings, {"OPENAI_API_KEY": "sk-1"})

    with pytest.raises(ModelError) as info:
        run(model)

    assert info.value.retryable
    assert len(server.requests) == attempts
