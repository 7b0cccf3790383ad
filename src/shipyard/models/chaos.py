"""`ChaosModel`: injects provider faults at a set rate, seeded and reproducible, for chaos runs and tests.

Faults, in turn: rate limit with Retry-After, server error, timeout, connection reset, an empty reply,
and a tool call whose JSON arguments are malformed.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

from shipyard.errors import ModelError
from shipyard.models.base import Model, ModelRequest, ModelResponse, ToolCall, Usage

FAULTS = ("rate_limit", "server_error", "timeout", "connection_reset", "empty_reply", "malformed_tool_call")


class ChaosModel:
    """Fails a share `rate` of calls with a mix of faults; otherwise passes the call through."""

    def __init__(self, inner: Model, rate: float, seed: int = 0) -> None:
        self.inner = inner
        self.name = inner.name
        self._rate = rate
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()
        self.calls = 0

    def _draw(self) -> str | None:
        with self._lock:
            self.calls += 1
            if self._rng.random() >= self._rate:
                return None
            fault = self._rng.choice(FAULTS)
            self.injected[fault] += 1
            return fault

    async def complete(self, request: ModelRequest) -> ModelResponse:
        fault = self._draw()
        if fault is None:
            return await self.inner.complete(request)
        return _inject(fault, self.name)


def _inject(fault: str, name: str) -> ModelResponse:
    if fault == "rate_limit":
        raise ModelError(f"{name}: rate limited (429) [chaos]", retryable=True, retry_after_s=0.01)
    if fault == "server_error":
        raise ModelError(f"{name}: server error (503) [chaos]", retryable=True)
    if fault == "timeout":
        raise ModelError(f"{name}: request timed out [chaos]", retryable=True)
    if fault == "connection_reset":
        raise ModelError(f"{name}: connection reset by peer [chaos]", retryable=True)
    if fault == "empty_reply":
        return ModelResponse(usage=Usage(10, 0))
    bad = ToolCall(
        id="chaos", name="finish", arguments={}, parse_error="arguments are not valid JSON [chaos]"
    )
    return ModelResponse(tool_calls=(bad,), usage=Usage(10, 5))
