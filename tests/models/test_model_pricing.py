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


def test_cache_tokens_are_priced_at_the_tables_cache_prices() -> None:
    plain = price_usd("anthropic", "claude-sonnet-4-5", Usage(10_000, 100))
    cached = price_usd("anthropic", "claude-sonnet-4-5", Usage(10_000, 100, cache_read_tokens=9_000))
    written = price_usd("anthropic", "claude-sonnet-4-5", Usage(10_000, 100, cache_write_tokens=10_000))
    hour = Usage(10_000, 100, cache_write_tokens=10_000, cache_write_1h_tokens=10_000)
    assert plain == pytest.approx((10_000 * 3 + 100 * 15) / 1e6)
    assert cached == pytest.approx((1_000 * 3 + 9_000 * 0.3 + 100 * 15) / 1e6)
    assert written == pytest.approx((10_000 * 3.75 + 100 * 15) / 1e6)
    assert price_usd("anthropic", "claude-sonnet-4-5", hour) == pytest.approx((10_000 * 6 + 1_500) / 1e6)


def test_explicit_price_bills_cache_reads_and_writes_apart() -> None:
    usage = Usage(1_000_000, 0, cache_read_tokens=500_000, cache_write_tokens=100_000)
    assert Price(2.0, 8.0, 0.2, 2.5).cost_usd(usage) == pytest.approx(0.4 * 2 + 0.5 * 0.2 + 0.1 * 2.5)
    assert Price(2.0, 8.0).cost_usd(usage) == pytest.approx(2.0), "no cache prices: the input price"


def test_usage_adds_every_field() -> None:
    a = Usage(10, 2, cache_read_tokens=5, cache_write_tokens=3, reasoning_tokens=1)
    assert a + a == Usage(20, 4, 10, 6, 2) and a.uncached_input_tokens == 2
