"""The head's worker slots on Ray: actors that hold a slot each (Ray resource `slot_resource`), spawned
when needed and reused (what each node holds of the code is `shipping`'s business)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import RayActorError

from shipyard.cluster.actor import NodeInfo, SlotActor
from shipyard.cluster.node import NodeModels
from shipyard.config import ClusterConfig

SPAWN_TRIES = 5
# Doubled after each failed spawn: a new actor may land on a node that is dying but not yet declared dead.
SPAWN_BACKOFF_S = 0.5


@dataclass
class Slot:
    actor: Any  # a Ray actor handle of `SlotActor`
    info: NodeInfo


class SlotPool:
    """Live slot actors: `acquire` one for a task, `release` it after, `lost` when it died.

    The first `acquire` starts `warm` actors at once (the fleet's size), so workers start warm; later a
    new actor is asked for only when more tasks wait than actors are starting. A waiting task takes the
    first actor that is ready or released: a cluster with fewer slots than workers (a node died, the
    autoscaler has not caught up) never leaves a task waiting for an actor that cannot be placed.
    """

    def __init__(self, cluster: ClusterConfig, models: NodeModels, warm: int = 1) -> None:
        self._cluster = cluster
        self._models = models
        self._warm = warm
        self._remote = ray.remote(SlotActor)
        self._idle: list[Slot] = []
        self._waiting: list[asyncio.Future[Slot]] = []
        self._starting: set[asyncio.Task[None]] = set()
        self._all: dict[int, Any] = {}  # every actor asked for, to kill at the end

    async def acquire(self) -> Slot:
        while self._idle:  # an idle actor's node may have died since: check before giving it a task
            slot = self._idle.pop()
            try:
                await slot.actor.hello.remote()
                return slot
            except RayActorError:
                self.lost(slot)
        waiter: asyncio.Future[Slot] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        wanted = max(self._warm, len(self._waiting)) - len(self._starting)
        self._warm = 0
        for _ in range(wanted):
            start = asyncio.get_running_loop().create_task(self._start())
            self._starting.add(start)
            start.add_done_callback(self._starting.discard)
        try:
            return await waiter
        finally:
            if waiter in self._waiting:
                self._waiting.remove(waiter)

    async def _start(self) -> None:
        """Start an actor for whoever waits first (the oldest waiter hears of a failure)."""
        try:
            slot = await self._spawn()
        except RayActorError as exc:
            waiter = next((w for w in self._waiting if not w.done()), None)
            if waiter is not None:
                waiter.set_exception(exc)
            return
        self.release(slot)

    async def _spawn(self) -> Slot:
        """A new actor, ready (`SPAWN_TRIES` times, with backoff: it may land on a dying node)."""
        delay = SPAWN_BACKOFF_S
        for attempt in range(SPAWN_TRIES):
            actor = self._new_actor()
            try:
                return Slot(actor, await actor.hello.remote())
            except RayActorError:
                self._all.pop(id(actor), None)
                if attempt == SPAWN_TRIES - 1:
                    raise
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def _new_actor(self) -> Any:
        options: dict[str, Any] = {
            "num_cpus": 0,
            "resources": {self._cluster.slot_resource: 1},
            "max_restarts": 0,  # the board decides what runs again, never Ray
            "max_task_retries": 0,
            "scheduling_strategy": "SPREAD",
        }
        actor = self._remote.options(**options).remote(self._cluster.node_dir, self._models)
        self._all[id(actor)] = actor
        return actor

    def release(self, slot: Slot) -> None:
        """The task is over and the actor alive: to a waiting task, or idle."""
        while self._waiting:
            waiter = self._waiting.pop(0)
            if not waiter.done():
                waiter.set_result(slot)
                return
        self._idle.append(slot)

    def lost(self, slot: Slot, kill: bool = False) -> None:
        """Forget an actor that died (or, with `kill`, one that must stop now: its agent was cancelled)."""
        if kill:
            self._kill(slot.actor)
        self._all.pop(id(slot.actor), None)

    def _kill(self, actor: Any) -> None:
        self._all.pop(id(actor), None)
        ray.kill(actor, no_restart=True)

    def close(self) -> None:
        for start in list(self._starting):
            start.cancel()
        for actor in list(self._all.values()):
            self._kill(actor)
        self._idle.clear()
