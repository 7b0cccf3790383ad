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
    """An explicit price in US dollars per million tokens, for models the table does not know."""

    input_per_mtok: float
    output_per_mtok: float

    def cost_usd(self, usage: Usage) -> float:
        """The cost of `usage` at this price."""
        return (
            usage.input_tokens * self.input_per_mtok + usage.output_tokens * self.output_per_mtok
        ) / _PER_MTOK


def price_usd(provider: str, model_id: str, usage: Usage, price: Price | None = None) -> float | None:
    """The cost of `usage` in US dollars: `price` if given, else the table; None when the model is unknown."""
    if price is not None:
        return price.cost_usd(usage)
    # Exact ids only: the table's own fuzzy match would price `openai-compatible` as `openai`.
    if provider not in _table_providers():
        return None
    table_usage = genai_prices.Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)
    try:
        calc = genai_prices.calc_price(table_usage, model_id, provider_id=provider)
    except Exception:  # unknown provider or model, or a table quirk: the cost is unknown, the call goes on
        return None
    return float(calc.total_price)


def provider_for_base_url(base_url: str) -> str | None:
    """The price-table provider serving `base_url` (e.g. `openrouter`), or None for a local/unknown server."""
    try:
        return data_snapshot.get_snapshot().find_provider(None, None, base_url).id
    except Exception:  # an unknown host is the common case (vLLM, Ollama, llama.cpp)
        return None


@cache
def _table_providers() -> frozenset[str]:
    return frozenset(p.id for p in data_snapshot.get_snapshot().providers)
