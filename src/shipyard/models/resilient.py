"""Retries with backoff and jitter, `Retry-After`, and a circuit breaker per provider.

A flaky provider slows the fleet down instead of failing it; a non-retryable error (bad key, unknown
model) is reported once through `on_fatal` and raised.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from shipyard.errors import ModelError
from shipyard.models.base import Model, ModelRequest, ModelResponse

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_s: float = 1.0
    max_s: float = 60.0
    breaker_threshold: int = 5
    breaker_cooldown_s: float = 30.0

    def delay_s(self, attempt: int, rng: random.Random, retry_after_s: float | None) -> float:
        """Full-jitter exponential backoff, or what the server asked for."""
        if retry_after_s is not None:
            return min(retry_after_s, self.max_s)
        return rng.uniform(0, min(self.max_s, self.base_s * 2**attempt))


class CircuitBreaker:
    """Opens after `threshold` failures in a row; while open, callers wait for the cooldown to pass."""

    def __init__(
        self, threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = threshold
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._open_until = 0.0
        self.openings = 0

    def wait_s(self) -> float:
        return max(0.0, self._open_until - self._clock())

    def success(self) -> None:
        self._failures = 0

    def failure(self) -> None:
        self._failures += 1
        if self._failures >= self._threshold and self.wait_s() == 0:
            self._open_until = self._clock() + self._cooldown_s
            self._failures = 0
            self.openings += 1


def _empty(response: ModelResponse) -> bool:
    """A reply with nothing in it; a cut one is not retried here (the loop tells the agent instead)."""
    return not response.text.strip() and not response.tool_calls and not response.cut_off


class ResilientModel:
    """Wraps a model: retries retryable failures and empty replies, shares a breaker per provider."""

    def __init__(
        self,
        inner: Model,
        breaker: CircuitBreaker,
        policy: RetryPolicy,
        on_fatal: Callable[[str], None] | None = None,
        seed: int | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self._breaker = breaker
        self._policy = policy
        self._on_fatal = on_fatal
        self._rng = random.Random(seed)
        self._sleep = sleep
        self.retries = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        last = self._policy.max_attempts - 1
        for attempt in range(self._policy.max_attempts):
            await self._sleep(self._breaker.wait_s())
            try:
                response = await self.inner.complete(request)
            except ModelError as exc:
                if not exc.retryable:
                    self._fatal(exc)
                if attempt == last:
                    raise
                await self._backoff(attempt, exc.retry_after_s)
                continue
            if _empty(response) and attempt < last:
                await self._backoff(attempt, None)
                continue
            self._breaker.success()
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _backoff(self, attempt: int, retry_after_s: float | None) -> None:
        self.retries += 1
        self._breaker.failure()
        await self._sleep(self._policy.delay_s(attempt, self._rng, retry_after_s))

    def _fatal(self, exc: ModelError) -> None:
        if self._on_fatal is not None:
            self._on_fatal(str(exc))
        raise exc
