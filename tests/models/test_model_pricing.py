"""Costs from the offline price table, or from an explicit per-token price."""

from __future__ import annotations

import pytest

from shipyard.models.base import Usage
from shipyard.models.pricing import Price, price_usd, provider_for_base_url

USAGE = Usage(input_tokens=500_000, output_tokens=250_000)


@pytest.mark.parametrize(("provider", "model_id"), [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-6")])
def test_known_model_has_a_positive_price(provider: str, model_id: str) -> None:
    cost = price_usd(provider, model_id, USAGE)

    assert cost is not None and cost > 0


def test_price_grows_with_usage() -> None:
    small = price_usd("openai", "gpt-4o", Usage(1000, 100))
    large = price_usd("openai", "gpt-4o", Usage(2000, 200))

    assert small is not None and large == pytest.approx(2 * small)


@pytest.mark.parametrize(
    ("provider", "model_id"),
    [("openai", "no-such-model"), ("openai-compatible", "llama3"), ("openai-compatible", "gpt-4o")],
)
def test_unknown_model_or_provider_has_no_price(provider: str, model_id: str) -> None:
    assert price_usd(provider, model_id, USAGE) is None


def test_override_price_math() -> None:
    price = Price(input_per_mtok=2.0, output_per_mtok=8.0)

    assert price_usd("openai-compatible", "llama3", USAGE, price) == pytest.approx(1.0 + 2.0)


def test_override_wins_over_the_table() -> None:
    assert price_usd("openai", "gpt-4o", USAGE, Price(0.0, 0.0)) == 0.0


def test_provider_for_base_url() -> None:
    assert provider_for_base_url("https://openrouter.ai/api/v1") == "openrouter"
    assert provider_for_base_url("https://api.openai.com/v1") == "openai"
    assert provider_for_base_url("http://127.0.0.1:8000/v1") is None
