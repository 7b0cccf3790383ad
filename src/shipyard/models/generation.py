"""Per-role generation settings applied to each request, and one retry of a reply cut at the limit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from shipyard.domain import Role
from shipyard.models.base import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    CacheRetention,
    CacheTTL,
    Model,
    ModelRequest,
    ModelResponse,
)

# A cut reply is retried once with this limit (the largest today's Claude models write; GPT-5 allows
# 128k). Set `retry_max_output_tokens` to the request's own limit to turn the retry off.
DEFAULT_RETRY_MAX_OUTPUT_TOKENS = 64_000


@dataclass(frozen=True)
class Generation:
    """How one role's replies are generated (`[generation.ROLE]` in shipyard.toml)."""

    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
    retry_max_output_tokens: int = DEFAULT_RETRY_MAX_OUTPUT_TOKENS
    reasoning_effort: str | None = None
    thinking_budget_tokens: int = 0
    cache_ttl: CacheTTL = "5m"
    prefix_cache_ttl: CacheTTL | None = None
    cache_retention: CacheRetention | None = None

    def apply(self, request: ModelRequest) -> ModelRequest:
        return replace(
            request,
            max_output_tokens=self.max_output_tokens,
            reasoning_effort=self.reasoning_effort,
            thinking_budget_tokens=self.thinking_budget_tokens,
            cache_ttl=self.cache_ttl,
            prefix_cache_ttl=self.prefix_cache_ttl,
            cache_retention=self.cache_retention,
        )


class GenerationModel:
    """Wraps a model: each request gets its role's settings; a cut reply is asked again, once, with
    the larger limit, and both calls are billed."""

    def __init__(self, inner: Model, by_role: Mapping[Role, Generation] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self._by_role = dict(by_role or {})

    def settings(self, role: Role) -> Generation:
        return self._by_role.get(role, Generation())

    async def complete(self, request: ModelRequest) -> ModelResponse:
        settings = self.settings(request.role)
        request = settings.apply(request)
        response = await self.inner.complete(request)
        larger = settings.retry_max_output_tokens
        if not response.cut_off or larger <= request.max_output_tokens:
            return response
        again = await self.inner.complete(replace(request, max_output_tokens=larger))
        return replace(
            again,
            usage=response.usage + again.usage,
            cost_usd=response.cost_usd + again.cost_usd,
            cut_retries=response.cut_retries + again.cut_retries + 1,
        )
