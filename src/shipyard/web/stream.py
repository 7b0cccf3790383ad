"""`GET /api/events`: the event log as server-sent events, from the start or a given id, then live."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from shipyard.board.base import Board
from shipyard.domain import Event
from shipyard.web.state import event_json

_PAGE = 500


@dataclass(frozen=True)
class StreamFilter:
    """Which events a client wants: after `since`, of one agent, of some kinds, strings clipped."""

    since: int = 0
    agent: str | None = None
    kinds: frozenset[str] = frozenset()
    clip: int | None = None
    follow: bool = True

    def wants(self, event: Event) -> bool:
        if self.agent is not None and event.agent != self.agent:
            return False
        return not self.kinds or event.kind in self.kinds


@dataclass(frozen=True)
class StreamTiming:
    poll_s: float = 0.1
    keepalive_s: float = 15.0


def sse(event: Event, clip: int | None) -> str:
    """One server-sent event: its id (for `Last-Event-ID` on reconnect) and its JSON."""
    payload = json.dumps(event_json(event, clip), separators=(",", ":"))
    return f"id: {event.id}\ndata: {payload}\n\n"


async def event_stream(
    board: Board,
    flt: StreamFilter,
    timing: StreamTiming,
    should_end: Callable[[], Awaitable[bool]],
) -> AsyncIterator[str]:
    """Yield the matching events, then new ones as they come, with a comment line while idle."""
    yield "retry: 2000\n\n"
    since, quiet_from = flt.since, time.monotonic()
    while not await should_end():
        batch = await asyncio.to_thread(board.events, since, _PAGE)
        for event in batch:
            since = event.id
            if flt.wants(event):
                yield sse(event, flt.clip)
                quiet_from = time.monotonic()
        if len(batch) == _PAGE:
            continue
        if not flt.follow:
            return
        if time.monotonic() - quiet_from >= timing.keepalive_s:
            yield ": keep-alive\n\n"
            quiet_from = time.monotonic()
        await asyncio.sleep(timing.poll_s)
