"""Dollar cost of a model call: an explicit per-token price, or the offline `genai-prices` table."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import genai_prices
from genai_prices import data_snapshot

from shipyard.models.base import Usage

_PER_MTOK = 1_000_000


@dataclass(frozen=True)
class Price:
    """An explicit price in US dollars per million tokens, for models the table does not know.

    Cache reads and writes cost the input price unless their own prices are given (the provider's
    list prices are usually a tenth of it for reads and 1.25x for five-minute writes).
    """

    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None

    def cost_usd(self, usage: Usage) -> float:
        """The cost of `usage` at this price."""
        read = self.input_per_mtok if self.cache_read_per_mtok is None else self.cache_read_per_mtok
        write = self.input_per_mtok if self.cache_write_per_mtok is None else self.cache_write_per_mtok
        dollars = (
            usage.uncached_input_tokens * self.input_per_mtok
            + usage.cache_read_tokens * read
            + usage.cache_write_tokens * write
            + usage.output_tokens * self.output_per_mtok
        )
        return dollars / _PER_MTOK


def price_usd(provider: str, model_id: str, usage: Usage, price: Price | None = None) -> float | None:
    """The cost of `usage` in US dollars: `price` if given, else the table; None when the model is unknown."""
    if price is not None:
        return price.cost_usd(usage)
    # Exact ids only: the table's own fuzzy match would price `openai-compatible` as `openai`.
    if provider not in _table_providers():
        return None
    try:
        calc = genai_prices.calc_price(_table_usage(usage), model_id, provider_id=provider)
    except Exception:  # unknown provider or model, or a table quirk: the cost is unknown, the call goes on
        return None
    return float(calc.total_price)


def _table_usage(usage: Usage) -> genai_prices.Usage:
    """Our usage in the table's terms: its `input_tokens` include cache reads and writes, as ours do."""
    counts = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
    }
    if usage.cache_write_1h_tokens:
        counts["cache_write_1h_tokens"] = usage.cache_write_1h_tokens
        counts["cache_write_5m_tokens"] = usage.cache_write_tokens - usage.cache_write_1h_tokens
    return genai_prices.Usage(**counts)


def provider_for_base_url(base_url: str) -> str | None:
    """The price-table provider serving `base_url` (e.g. `openrouter`), or None for a local/unknown server."""
    try:
        return data_snapshot.get_snapshot().find_provider(None, None, base_url).id
    except Exception:  # an unknown host is the common case (vLLM, Ollama, llama.cpp)
        return None


@cache
def _table_providers() -> frozenset[str]:
    return frozenset(p.id for p in data_snapshot.get_snapshot().providers)
