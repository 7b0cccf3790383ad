"""Brings a remote worker's events into the head's log while it works (transcripts, tool calls, usage),
so status, the dashboard, budgets and stall detection work as for a local worker; each answer from the
node also renews the task's lease. Once the head's run is over budget or stopped, the node hears of it
at the next pull (`SlotActor.halt`): its loop and its gateway refuse the next model call."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shipyard.domain import Event, Task
from shipyard.fleet.budget import over_budget
from shipyard.fleet.runtime import Runtime


class Relay:
    def __init__(self, rt: Runtime, actor: Any, task: Task, agent: str) -> None:
        self._rt = rt
        self._actor = actor
        self._task = task
        self._agent = agent
        self._renewed = time.monotonic()
        self._one_at_a_time = asyncio.Lock()  # events are recorded in the order the node logged them
        self.halted = ""  # why the node was told to make no more model calls ("" until it was)

    async def follow(self, poll_s: float) -> None:
        """Pull every `poll_s` until cancelled (a dead actor ends it: the runner hears of that itself)."""
        while True:
            await asyncio.sleep(poll_s)
            await self.pull()

    async def pull(self, drained: tuple[Event, ...] | None = None) -> int:
        """Record what the node logged since the last pull (or `drained`: what the node sent along with
        an answer); the number of events."""
        async with self._one_at_a_time:
            events = list(drained) if drained is not None else await self._actor.drain.remote()
            for event in events:
                self._record(event)
        lease_s = self._rt.config.fleet.lease_s
        if time.monotonic() - self._renewed >= lease_s / 3:
            self._rt.board.heartbeat(self._task.id, self._agent, lease_s)
            self._renewed = time.monotonic()
        await self._halt_if_over()
        return len(events)

    async def _halt_if_over(self) -> None:
        """Tell the node, once, that the run is over budget or stopped (what the node spends is counted
        here as its events arrive, so nodes together overspend by at most one poll's calls)."""
        reason = "" if self.halted else over_budget(self._rt) or self._rt.stop.reason
        if reason:
            self.halted = reason
            await self._actor.halt.remote(reason)

    def _record(self, event: Event) -> None:
        if event.kind == "ModelCalled":  # the run's totals, as `totals_from_events` counts them
            data, totals = event.data, self._rt.totals
            cost = float(data.get("cost_usd", 0.0))
            totals.tokens += int(data.get("input_tokens", 0)) + int(data.get("output_tokens", 0))
            totals.cost_usd += cost
            role = str(data.get("role", ""))
            totals.by_role_usd[role] = totals.by_role_usd.get(role, 0.0) + cost
        # the head's board redacts again with the head's rules before anything is stored
        self._rt.record(Event(event.kind, event.data, event.task_id, event.agent))
