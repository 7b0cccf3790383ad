"""`shipyard bench --scenario tokens`: a 40-step worker session through the real loop and provider code,
over HTTP to a local fake API that bills by each provider's documented caching rules.

Per provider it measures the prompt tokens, the share read from cache, the cost per task at list
prices as sent and with caching off, the compactions and the cache rebuilds they caused.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shipyard.agent import AgentLimits, AgentRun, run_agent
from shipyard.bench.fakeapi import FakeAPI, FakeAPIServer, Reply
from shipyard.bench.session import Step, planned_tools, system_and_prompt, worker_session
from shipyard.domain import Role
from shipyard.models.base import CacheTTL, Model, ModelRequest, ModelResponse, Usage
from shipyard.models.factory import ModelRef, ProviderSettings, build_provider_model
from shipyard.models.generation import Generation, GenerationModel
from shipyard.models.pricing import price_usd

PROVIDERS = {"anthropic": "claude-sonnet-4-5", "openai": "gpt-5"}
STEP_S = 20.0  # simulated time per step (model and tools): the cache TTLs see a realistic pace
_REBUILD_SLACK = 128  # OpenAI counts cached tokens in steps of 128


@dataclass(frozen=True)
class TokenPlan:
    steps: int = 40
    seed: int = 0
    context_chars: int = 150_000  # small enough that the session compacts once or twice


@dataclass
class _Log:
    """What one session sent and was billed, call by call."""

    requests: list[ModelRequest] = field(default_factory=list)
    usages: list[Usage] = field(default_factory=list)
    cost_usd: float = 0.0


@dataclass(frozen=True)
class TokenRow:
    provider: str
    model: str
    steps: int
    prompt_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_share: float
    cost_usd: float
    cost_uncached_usd: float
    saving_x: float
    compactions: int
    rebuilds: int


class _Recording:
    """Wraps a model: keeps each request and the billed usage of each reply; advances the clock."""

    def __init__(self, inner: Model, log: _Log, tick: Callable[[], None]) -> None:
        self.inner, self.name, self._log, self._tick = inner, inner.name, log, tick

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self._log.requests.append(request)
        response = await self.inner.complete(request)
        self._log.usages.append(response.usage)
        self._log.cost_usd += response.cost_usd
        self._tick()
        return response


def _script(steps: list[Step]) -> Callable[[str, dict[str, Any]], Reply]:
    def reply(api: str, body: dict[str, Any]) -> Reply:
        done = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
        step = steps[min(done, len(steps) - 1)]
        return Reply(step.thought, ((step.tool, step.arguments),))

    return reply


async def _session(
    provider: str, base_url: str, ttl: CacheTTL, plan: TokenPlan, tick: Callable[[], None]
) -> _Log:
    steps, log = worker_session(plan.steps, plan.seed), _Log()
    ref = ModelRef(provider, PROVIDERS[provider])
    url = base_url if provider == "anthropic" else f"{base_url}/v1"
    settings = ProviderSettings(base_url=url, max_retries=0, price_as=provider)
    inner = build_provider_model(ref, settings, {f"{provider.upper()}_API_KEY": "bench"})
    model = GenerationModel(_Recording(inner, log, tick), {Role.WORKER: Generation(cache_ttl=ttl)})
    system, prompt = system_and_prompt()
    limits = AgentLimits(max_steps=plan.steps + 2, max_tokens=10**9, context_chars=plan.context_chars)
    run = AgentRun(Role.WORKER, "worker-1", system, prompt, planned_tools(steps), limits)
    try:
        outcome = await run_agent(model, run)
    finally:
        await inner.aclose()  # type: ignore[attr-defined]
    if outcome.finish is None:
        raise RuntimeError(f"the bench session did not finish: {outcome.stop_reason} {outcome.error}")
    return log


def measure(provider: str, ttl: CacheTTL, plan: TokenPlan) -> _Log:
    """One session against a fresh fake API (empty caches), its clock moving `STEP_S` per call."""
    now = [0.0]

    def tick() -> None:
        now[0] += STEP_S

    api = FakeAPI(_script(worker_session(plan.steps, plan.seed)), lambda: now[0])
    with FakeAPIServer(api) as server:
        return asyncio.run(_session(provider, server.url, ttl, plan, tick))


def compactions(requests: list[ModelRequest]) -> int:
    """Requests whose conversation does not extend the previous one (the context was compacted)."""
    return sum(1 for a, b in itertools.pairwise(requests) if b.messages[: len(a.messages)] != a.messages)


def rebuilds(usages: list[Usage]) -> int:
    """Calls after the first that did not read the whole previous prompt from cache."""
    return sum(
        1 for a, b in itertools.pairwise(usages) if b.cache_read_tokens + _REBUILD_SLACK < a.input_tokens
    )


def token_row(provider: str, plan: TokenPlan) -> TokenRow:
    """The provider's figures: caching as sent, and the same session with caching off."""
    cached = measure(provider, "5m", plan)
    total = sum(cached.usages, Usage())
    if provider == "anthropic":
        uncached_usd = measure(provider, "off", plan).cost_usd
    else:  # OpenAI caches automatically: caching off is the same tokens at the full input price
        plain = [Usage(u.input_tokens, u.output_tokens) for u in cached.usages]
        uncached_usd = sum(price_usd(provider, PROVIDERS[provider], u) or 0.0 for u in plain)
    return TokenRow(
        provider=provider,
        model=PROVIDERS[provider],
        steps=len(cached.requests),
        prompt_tokens=total.input_tokens,
        cache_read_tokens=total.cache_read_tokens,
        cache_write_tokens=total.cache_write_tokens,
        cache_share=round(total.cache_read_tokens / max(1, total.input_tokens), 4),
        cost_usd=round(cached.cost_usd, 4),
        cost_uncached_usd=round(uncached_usd, 4),
        saving_x=round(uncached_usd / cached.cost_usd, 2) if cached.cost_usd else 0.0,
        compactions=compactions(cached.requests),
        rebuilds=rebuilds(cached.usages),
    )


def run_tokens(
    providers: tuple[str, ...], plan: TokenPlan, progress: Callable[[str], None]
) -> list[TokenRow]:
    rows = []
    for provider in providers:
        row = token_row(provider, plan)
        progress(
            f"{provider}: {row.prompt_tokens:,} prompt tokens, {row.cache_share:.1%} from cache, "
            f"${row.cost_usd:.3f} per task (${row.cost_uncached_usd:.3f} uncached)"
        )
        rows.append(row)
    return rows
