"""A reply cut at the output limit with nothing in it is not retried as an empty reply."""

from __future__ import annotations

import asyncio

from shipyard.models.base import ModelRequest, ModelResponse
from shipyard.models.resilient import CircuitBreaker, ResilientModel, RetryPolicy


class Cut:
    name = "fake:cut"

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls += 1
        return ModelResponse(cut_off=True)  # e.g. reasoning used the whole output limit


def test_a_cut_empty_reply_goes_back_to_the_loop_once() -> None:
    inner = Cut()

    async def sleep(s: float) -> None:
        pass

    model = ResilientModel(inner, CircuitBreaker(3, 30.0), RetryPolicy(max_attempts=5), sleep=sleep)
    response = asyncio.run(model.complete(ModelRequest(messages=())))
    assert response.cut_off and inner.calls == 1
