"""Provider faults: retries with backoff and Retry-After, the circuit breaker, fatal errors, chaos."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from shipyard.errors import ModelError
from shipyard.models.base import ModelRequest, ModelResponse, ToolCall
from shipyard.models.chaos import FAULTS, ChaosModel
from shipyard.models.resilient import CircuitBreaker, ResilientModel, RetryPolicy

OK = ModelResponse(text="ok")


class Flaky:
    """Fails with the given errors in turn, then answers."""

    def __init__(self, *failures: ModelError | ModelResponse) -> None:
        self.name = "fake:flaky"
        self.failures = list(failures)
        self.calls = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls += 1
        if self.failures:
            item = self.failures.pop(0)
            if isinstance(item, ModelError):
                raise item
            return item
        return OK


def _resilient(inner: Flaky, sleeps: list[float], fatal: list[str] | None = None, attempts: int = 5):
    policy = RetryPolicy(
        max_attempts=attempts, base_s=1.0, max_s=8.0, breaker_threshold=3, breaker_cooldown_s=30
    )
    breaker = CircuitBreaker(3, 30.0, clock=lambda: 0.0)

    async def sleep(s: float) -> None:
        sleeps.append(s)

    on_fatal = fatal.append if fatal is not None else None
    return ResilientModel(inner, breaker, policy, on_fatal, seed=7, sleep=sleep), breaker


def _call(model: ResilientModel) -> ModelResponse:
    return asyncio.run(model.complete(ModelRequest(messages=())))


def test_retryable_errors_are_retried_with_retry_after_honoured() -> None:
    sleeps: list[float] = []
    inner = Flaky(ModelError("429", retryable=True, retry_after_s=2.5), ModelError("503", retryable=True))
    model, _ = _resilient(inner, sleeps)
    assert _call(model) is OK
    assert inner.calls == 3 and model.retries == 2
    delays = [s for s in sleeps if s > 0]
    assert delays[0] == 2.5 and 0 <= delays[1] <= 2.0  # Retry-After, then jittered 1 s * 2**1


def test_empty_replies_are_retried() -> None:
    sleeps: list[float] = []
    inner = Flaky(ModelResponse(), ModelResponse())
    model, _ = _resilient(inner, sleeps)
    assert _call(model) is OK and inner.calls == 3


def test_breaker_opens_after_repeated_failures_and_makes_callers_wait() -> None:
    sleeps: list[float] = []
    inner = Flaky(*[ModelError("500", retryable=True) for _ in range(3)])
    model, breaker = _resilient(inner, sleeps)
    assert _call(model) is OK
    assert breaker.openings == 1
    assert 30.0 in sleeps  # the call after the third failure waited out the cooldown


def test_non_retryable_error_is_raised_at_once_and_reported_as_fatal() -> None:
    sleeps: list[float] = []
    fatal: list[str] = []
    model, _ = _resilient(Flaky(ModelError("401 bad key", retryable=False)), sleeps, fatal)
    with pytest.raises(ModelError, match="bad key"):
        _call(model)
    assert fatal == ["401 bad key"]


def test_retries_give_up_after_max_attempts() -> None:
    sleeps: list[float] = []
    model, _ = _resilient(Flaky(*[ModelError("500", retryable=True)] * 9), sleeps, attempts=3)
    with pytest.raises(ModelError, match="500"):
        _call(model)


def test_chaos_model_injects_every_fault_kind_at_about_the_rate() -> None:
    class Echo:
        name = "fake:echo"

        async def complete(self, request: ModelRequest) -> ModelResponse:
            return ModelResponse(tool_calls=(ToolCall("1", "finish", {}),))

    chaos = ChaosModel(Echo(), rate=0.2, seed=3)

    async def many() -> None:
        for _ in range(3000):
            with contextlib.suppress(ModelError):
                await chaos.complete(ModelRequest(messages=()))

    asyncio.run(many())
    share = sum(chaos.injected.values()) / chaos.calls
    assert 0.17 < share < 0.23
    assert set(chaos.injected) == set(FAULTS)
