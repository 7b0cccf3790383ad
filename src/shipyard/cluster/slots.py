"""The head's worker slots on Ray: `SlotActor`s on the nodes, each holding `slots_per_actor` slots (that
many units of the Ray resource `slot_resource`), started when needed and reused. What each node holds of
the code is `shipping`'s business."""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import RayActorError

from shipyard.cluster.actor import NodeInfo, SlotActor, SlotHandle
from shipyard.cluster.node import NodeModels
from shipyard.config import ClusterConfig

SPAWN_TRIES = 5
# Doubled after each failed spawn: a new actor may land on a node that is dying but not yet declared dead.
SPAWN_BACKOFF_S = 0.5


@dataclass
class Slot:
    actor: Any  # one slot of a `SlotActor` (a `SlotHandle`), called as an actor of its own
    info: NodeInfo


@dataclass
class _Host:
    """One `SlotActor`: its slots stop being handed out once it died or all of them were stopped."""

    actor: Any
    size: int
    stopped: set[int] = field(default_factory=set)
    dead: bool = False


class SlotPool:
    """Live slots: `acquire` one for a task, `release` it after, `lost` when its actor died.

    The first `acquire` starts actors for `warm` slots at once (the fleet's size), so workers start warm;
    later new actors are asked for only when more tasks wait than slots are starting. A waiting task
    takes the first slot that is ready or released: a cluster with fewer slots than workers (a node died,
    the autoscaler has not caught up) never leaves a task waiting for an actor that cannot be placed.
    """

    def __init__(self, cluster: ClusterConfig, models: NodeModels, warm: int = 1) -> None:
        self._cluster = cluster
        self._models = models
        self._warm = warm
        self._remote = ray.remote(SlotActor)
        self._idle: list[Slot] = []
        self._waiting: list[asyncio.Future[Slot]] = []
        self._starting: set[asyncio.Task[None]] = set()
        self._hosts: dict[int, _Host] = {}  # every actor asked for, to kill at the end
        self._stopping: set[asyncio.Task[None]] = set()
        self._per_actor = per_actor(cluster)
        self.failed_starts = 0  # actors that could not start, in a row (0 again once one starts)

    async def acquire(self) -> Slot:
        while self._idle:  # an idle slot's node may have died since: the runner tries another then
            slot = self._idle.pop()
            if not self._host(slot).dead:
                return slot
        waiter: asyncio.Future[Slot] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        wanted = max(self._warm, len(self._waiting)) - len(self._starting) * self._per_actor
        self._warm = 0
        for _ in range(math.ceil(max(0, wanted) / self._per_actor)):
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
            actor, info = await self._spawn()
        except RayActorError as exc:
            self.failed_starts += 1
            waiter = next((w for w in self._waiting if not w.done()), None)
            if waiter is not None:
                waiter.set_exception(exc)
            return
        self.failed_starts = 0
        for index in range(self._per_actor):
            self.release(Slot(SlotHandle(actor, index), info))

    async def _spawn(self) -> tuple[Any, NodeInfo]:
        """A new actor, ready (`SPAWN_TRIES` times, with backoff: it may land on a dying node)."""
        delay = SPAWN_BACKOFF_S
        for attempt in range(SPAWN_TRIES):
            actor = self._new_actor()
            try:
                return actor, await actor.hello.remote()
            except RayActorError:
                self._hosts.pop(id(actor), None)
                if attempt == SPAWN_TRIES - 1:
                    raise
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def _new_actor(self) -> Any:
        options: dict[str, Any] = {
            "num_cpus": 0,
            "resources": {self._cluster.slot_resource: self._per_actor},
            "max_restarts": 0,  # the board decides what runs again, never Ray
            "max_task_retries": 0,
            "scheduling_strategy": "SPREAD",
        }
        remote = self._remote.options(**options)
        actor = remote.remote(self._cluster.node_dir, self._models, self._per_actor)
        self._hosts[id(actor)] = _Host(actor, self._per_actor)
        return actor

    def _host(self, slot: Slot) -> _Host:
        return self._hosts.get(id(slot.actor.actor)) or _Host(slot.actor.actor, 0, dead=True)

    def release(self, slot: Slot) -> None:
        """The task is over and the slot alive: to a waiting task, or idle."""
        if self._host(slot).dead:
            return
        while self._waiting:
            waiter = self._waiting.pop(0)
            if not waiter.done():
                waiter.set_result(slot)
                return
        self._idle.append(slot)

    def lost(self, slot: Slot, kill: bool = False) -> None:
        """Forget a slot whose actor died, with the actor's other slots; or, with `kill`, stop this slot's
        agent now (its task was cancelled) and hand the slot out no more."""
        host = self._host(slot)
        if not kill:
            host.dead = True
            self._hosts.pop(id(host.actor), None)
            return
        host.stopped.add(slot.actor.index)
        if len(host.stopped) >= host.size:
            self._kill(host.actor)
            return
        stopping = asyncio.get_running_loop().create_task(_stop(slot))  # the caller is being cancelled:
        self._stopping.add(stopping)  # it cannot wait for the node's answer
        stopping.add_done_callback(self._stopping.discard)

    def _kill(self, actor: Any) -> None:
        host = self._hosts.pop(id(actor), None)
        if host is not None:
            host.dead = True
        ray.kill(actor, no_restart=True)

    def close(self) -> None:
        for start in list(self._starting):
            start.cancel()
        for host in list(self._hosts.values()):
            self._kill(host.actor)
        self._idle.clear()


async def _stop(slot: Slot) -> None:
    """Stop a slot's agent on its node (its actor's other slots go on); a dead actor has stopped it."""
    with contextlib.suppress(RayActorError):
        await slot.actor.stop.remote()


def per_actor(cluster: ClusterConfig) -> int:
    """Slots per actor: at most `slots_per_actor`, and a divisor of every node's slot count, so that
    actors fill every node and none asks for more than a node offers (it would wait forever); as
    configured while no node offers slots yet (an autoscaler adds them)."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
    sizes = [int(n.get("Resources", {}).get(cluster.slot_resource, 0)) for n in nodes]
    return fitting(cluster.slots_per_actor, [size for size in sizes if size > 0])


def fitting(wanted: int, sizes: list[int]) -> int:
    """The largest count up to `wanted` that divides each of `sizes` (`wanted` when there are none)."""
    if not sizes:
        return wanted
    common = math.gcd(*sizes)
    return max(n for n in range(1, min(wanted, common) + 1) if common % n == 0)
