"""Shared backoff per provider: one 429 slows every agent's next calls to that upstream, not only the
caller's. The wait comes from the reply (`retry-after-ms`, `retry-after` in seconds) or, without one,
doubles with each 429 in a row (from `first_s`, at most `max_s`); a successful reply resets the doubling."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping


class Backoff:
    """When calls to each upstream may go out again (monotonic time), as 429s tell."""

    def __init__(
        self, first_s: float = 1.0, max_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self._clock = clock
        self._until: dict[str, float] = {}
        self._streak: dict[str, int] = {}

    def wait_s(self, upstream: str) -> float:
        """How long a call to `upstream` must wait now (0 when it may go)."""
        return max(0.0, self._until.get(upstream, 0.0) - self._clock())

    def throttled(self, upstream: str, headers: Mapping[str, str]) -> float:
        """Note a 429 from `upstream`; returns the wait every caller now gets."""
        streak = self._streak.get(upstream, 0) + 1
        self._streak[upstream] = streak
        wait = _retry_after(headers)
        if wait is None:
            wait = self.first_s * 2 ** (streak - 1)
        wait = min(self.max_s, max(0.0, wait))
        self._until[upstream] = max(self._until.get(upstream, 0.0), self._clock() + wait)
        return wait

    def succeeded(self, upstream: str) -> None:
        self._streak.pop(upstream, None)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    lower = {k.lower(): v for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return float(lower[name]) * scale
        except (KeyError, ValueError):
            continue
    return None
