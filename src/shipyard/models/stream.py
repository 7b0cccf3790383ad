"""Reading a streamed reply with an idle timeout: a long generation may take minutes, a silent one not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

DEFAULT_IDLE_TIMEOUT_S = 120.0


class StreamIdle(Exception):
    """No event arrived within the idle timeout (the provider maps it to a retryable `ModelError`)."""

    def __init__(self, idle_s: float) -> None:
        super().__init__(f"no stream event for {idle_s:g}s")
        self.idle_s = idle_s


async def drain(events: AsyncIterator[object], idle_s: float) -> int:
    """Read every event of `events`, each within `idle_s` of the one before; returns how many came."""
    count = 0
    while True:
        try:
            await asyncio.wait_for(anext(events), idle_s)
        except StopAsyncIteration:
            return count
        except TimeoutError:
            raise StreamIdle(idle_s) from None
        count += 1
