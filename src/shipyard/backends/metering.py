"""One CLI run's access through the model gateway: its grant, every call metered into the transcript
as it happens, and the run's limits and the fleet's budget enforced on each call (hard stops)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from shipyard.agent import AgentRun, Observer
from shipyard.backends.dialect import CliSettings, Endpoint, Report
from shipyard.gateway import Call, Gateway, Grant, Upstream
from shipyard.models.base import ModelResponse, Usage
from shipyard.models.pricing import price_usd

DEFAULT_URLS = {"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com/v1"}


def upstream_for(settings: CliSettings, provider: str, name: str) -> Upstream:
    """The provider endpoint one configured CLI reaches through the gateway, with its real key."""
    return Upstream(name, provider, settings.base_url or DEFAULT_URLS[provider], settings.api_key)


@dataclass
class RunHooks:
    """What a CLI run may learn of and do to the fleet: record events, read the budget, stop the run."""

    record: Callable[..., object] | None = None
    budget: Callable[[], str] | None = None  # why the run may spend no more, or ""
    stop: Callable[[str], None] | None = None


class GatewaySession:
    """`async with` around one CLI run: a grant while it runs, revoked (worthless) when it ends."""

    def __init__(self, gateway: Gateway, upstream: str, run: AgentRun, report: Report) -> None:
        self.gateway = gateway
        self.upstream = upstream
        self.run = run
        self.report = report  # the CLI's own transcript report: its step count names each call's step
        self.observer: Observer | None = None
        self.hooks = RunHooks()
        self.pricing: tuple[str, CliSettings] | None = None  # (provider, settings) for the price
        self.calls = 0
        self.usage = Usage()
        self.cost_usd = 0.0
        self.priced = False
        self.refused = ""
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._grant: Grant | None = None

    @property
    def endpoint(self) -> Endpoint:
        assert self._grant is not None, "not entered"
        return Endpoint(self._grant.base_url, self._grant.token)

    async def __aenter__(self) -> GatewaySession:
        self._loop = asyncio.get_running_loop()
        grant = self.gateway.grant  # starting the gateway takes a moment: not on the fleet's loop
        self._grant = await asyncio.to_thread(grant, self.run.agent, self.upstream, self._on_call, self._gate)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._grant is not None:
            await asyncio.to_thread(self.gateway.revoke, self._grant)

    def _gate(self) -> str:
        """Called by the gateway before each call: the run's token limit, then the fleet's budget."""
        limit = self.run.limits.max_tokens
        with self._lock:
            spent = self.usage.total
        if limit and spent >= limit:
            return f"this agent reached its token limit ({spent} of {limit} tokens)"
        return self.hooks.budget() if self.hooks.budget is not None else ""

    def _on_call(self, call: Call) -> None:
        """From the gateway's thread: count at once (the next gate sees it), report on the fleet's loop."""
        cost = None
        if self.pricing is not None and call.status < 400:
            provider, settings = self.pricing
            cost = price_usd(
                provider, call.tally.model or settings.model or "", call.tally.usage, settings.price
            )
        with self._lock:
            self.calls += 1
            self.usage += call.tally.usage
            self.cost_usd += cost or 0.0
            self.priced = self.priced or cost is not None
            if call.refused:
                self.refused = call.refused
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._reported, call, cost or 0.0)

    def _reported(self, call: Call, cost: float) -> None:
        self.report.running_tokens = max(self.report.running_tokens, self.usage.total)
        if call.refused and self.hooks.stop is not None and not call.refused.startswith("this agent"):
            self.hooks.stop(call.refused)
        if self.observer is not None:
            text = describe(call)
            self.observer.model_called(
                self.run, self.report.steps, ModelResponse(text, (), call.tally.usage, cost)
            )


def describe(call: Call) -> str:
    """One line for the transcript about a call through the gateway."""
    t = call.tally
    if call.refused:
        return f"[gateway] call refused: {call.refused}"
    head = f"[gateway] {t.model or call.upstream} {call.api or 'call'}: HTTP {call.status}"
    head += " (streamed)" if call.streamed else ""
    if call.status >= 400:
        return f"{head}: {call.error[:500]}"
    cache = f" ({t.cache_read_tokens} cache read, {t.cache_write_tokens} cache write)"
    return f"{head}; {t.input_tokens} input tokens{cache}, {t.output_tokens} output tokens"
