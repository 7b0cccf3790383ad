"""Model strings (`openai:gpt-5.2`) parsed and checked; OpenAI and Anthropic models built from settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shipyard.errors import ConfigError
from shipyard.models.base import Model
from shipyard.models.pricing import Price, provider_for_base_url

if TYPE_CHECKING:
    import openai

PROVIDERS = ("openai", "openai-responses", "anthropic", "scripted", "sim")
HTTP_PROVIDERS = ("openai", "openai-responses", "anthropic")
DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "openai-responses": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}
# The vendor whose key, base URL variable and `[providers.*]` table a provider uses.
VENDOR = {"openai": "openai", "openai-responses": "openai", "anthropic": "anthropic"}
# Local servers (vLLM, Ollama, llama.cpp) usually accept any key, but the SDKs insist on one.
PLACEHOLDER_KEY = "shipyard-no-key"
# Provider name for an OpenAI-compatible server the price table does not know.
COMPATIBLE = "openai-compatible"


@dataclass(frozen=True)
class ModelRef:
    """A parsed model string: `openai:gpt-5.2` is provider `openai`, model id `gpt-5.2`."""

    provider: str
    model_id: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model_id}"


@dataclass(frozen=True)
class ProviderSettings:
    """One `[providers.NAME]` table of shipyard.toml."""

    base_url: str | None = None
    api_key_env: str | None = None
    timeout_s: float = 120.0
    max_retries: int = 2
    # The price-table provider for a custom base URL (e.g. a proxy of OpenAI); None: found from the URL.
    price_as: str | None = None


@dataclass(frozen=True)
class _Access:
    key_env: str
    api_key: str
    base_url: str
    custom_url: bool


def parse_model_string(text: str) -> ModelRef:
    """`openai:MODEL`, `openai-responses:MODEL`, `anthropic:MODEL`, `scripted:demo|PATH.json`, `sim`."""
    provider, sep, model_id = text.strip().partition(":")
    provider, model_id = provider.lower(), model_id.strip()
    if provider == "sim" and not sep:
        return ModelRef("sim", "default")
    if provider not in PROVIDERS or not model_id:
        raise ConfigError(
            f"unknown model string `{text}`; expected PROVIDER:MODEL with provider one of "
            f"{', '.join(PROVIDERS)} (e.g. openai:gpt-5.2)"
        )
    if provider == "scripted" and model_id != "demo" and not model_id.endswith(".json"):
        raise ConfigError(f"unknown scripted model `{text}`; expected scripted:demo or scripted:PATH.json")
    return ModelRef(provider, model_id)


def check_provider_ready(ref: ModelRef, settings: ProviderSettings, env: Mapping[str, str]) -> None:
    """Raise `ConfigError` if `ref` cannot be called (no API key and no base URL); builds nothing."""
    if ref.provider in HTTP_PROVIDERS:
        _access(ref, settings, env)


def build_provider_model(
    ref: ModelRef, settings: ProviderSettings, env: Mapping[str, str], price: Price | None = None
) -> Model:
    """An `OpenAIModel` or `AnthropicModel` for `ref`; scripted and simulated models are built elsewhere."""
    if ref.provider not in HTTP_PROVIDERS:
        raise ValueError(f"build_provider_model builds openai/anthropic models, not `{ref}`")
    access = _access(ref, settings, env)
    if ref.provider == "anthropic":
        return _anthropic(ref, settings, access, price)
    if ref.provider == "openai-responses":
        return _responses(ref, settings, access, price)
    return _openai(ref, settings, access, price)


def key_env_for(provider: str, settings: ProviderSettings) -> str:
    """The environment variable that holds an HTTP provider's API key."""
    return settings.api_key_env or f"{VENDOR[provider].upper()}_API_KEY"


def _access(ref: ModelRef, settings: ProviderSettings, env: Mapping[str, str]) -> _Access:
    vendor = VENDOR[ref.provider]
    key_env = key_env_for(ref.provider, settings)
    custom_url = settings.base_url or env.get(f"{vendor.upper()}_BASE_URL") or None
    api_key = env.get(key_env, "").strip()
    if not api_key and custom_url is None:
        raise ConfigError(
            f"{key_env} is not set (needed for model `{ref}`); export it, "
            f"or set `api_key_env` under [providers.{vendor}] in shipyard.toml"
        )
    base_url = custom_url or DEFAULT_BASE_URLS[ref.provider]
    return _Access(key_env, api_key or PLACEHOLDER_KEY, base_url, custom_url is not None)


def _openai_client(settings: ProviderSettings, access: _Access) -> openai.AsyncOpenAI:
    """One OpenAI SDK client (Chat Completions and Responses share it); the SDK loads only here."""
    import openai

    return openai.AsyncOpenAI(
        api_key=access.api_key,
        base_url=access.base_url,
        timeout=settings.timeout_s,
        max_retries=settings.max_retries,
    )


def _openai(ref: ModelRef, settings: ProviderSettings, access: _Access, price: Price | None) -> Model:
    from shipyard.models.openai import OpenAIModel

    client = _openai_client(settings, access)
    provider = _price_provider(settings, access)
    return OpenAIModel(
        ref.model_id,
        client,
        provider=provider,
        price=price,
        api_key_env=access.key_env,
        idle_timeout_s=settings.timeout_s,
    )


def _price_provider(settings: ProviderSettings, access: _Access) -> str:
    """Whose prices apply: OpenAI's, or the table's provider behind a custom base URL, if it knows it."""
    if not access.custom_url:
        return "openai"
    return settings.price_as or provider_for_base_url(access.base_url) or COMPATIBLE


def _responses(ref: ModelRef, settings: ProviderSettings, access: _Access, price: Price | None) -> Model:
    from shipyard.models.responses import ResponsesModel

    client = _openai_client(settings, access)
    return ResponsesModel(
        ref.model_id,
        client,
        price=price,
        api_key_env=access.key_env,
        idle_timeout_s=settings.timeout_s,
        price_as=_price_provider(settings, access),
    )


def _anthropic(ref: ModelRef, settings: ProviderSettings, access: _Access, price: Price | None) -> Model:
    import anthropic

    from shipyard.models.anthropic import AnthropicModel

    client = anthropic.AsyncAnthropic(
        api_key=access.api_key,
        base_url=access.base_url,
        timeout=settings.timeout_s,
        max_retries=settings.max_retries,
    )
    return AnthropicModel(
        ref.model_id, client, price=price, api_key_env=access.key_env, idle_timeout_s=settings.timeout_s
    )
