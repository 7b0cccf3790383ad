"""The head's worker slots on Ray: actors that hold a slot each (Ray resource `slot_resource`), spawned
when needed and reused, and the commits each node holds (a node is sent only what it lacks)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import RayActorError

from shipyard.cluster.actor import NodeInfo, SlotActor
from shipyard.cluster.node import NodeModels, Shipment
from shipyard.config import ClusterConfig
from shipyard.git import GitRepo
from shipyard.git.bundle import create_bundle, set_ref

SPAWN_TRIES = 5
# Doubled after each failed spawn: a new actor may land on a node that is dying but not yet declared dead.
SPAWN_BACKOFF_S = 0.5


@dataclass
class Slot:
    actor: Any  # a Ray actor handle of `SlotActor`
    info: NodeInfo


@dataclass
class _Node:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holds: set[str] = field(default_factory=set)
    last: str | None = None


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
        self._nodes: dict[tuple[Path, str], _Node] = {}  # by repository and node

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

    async def ship(self, repo: GitRepo, slot: Slot, sha: str) -> int:
        """Make sure the slot's node holds `sha` of `repo`; the bytes sent (0 when it had it)."""
        node = self._nodes.setdefault((repo.root, slot.info.node_id), _Node())
        async with node.lock:
            if sha in node.holds:
                return 0
            if node.last is None and await slot.actor.has.remote(sha):  # first contact: a node keeps its
                node.holds.add(sha)  # mirror across runs; later, it holds what was sent
                node.last = sha
                return 0
            ref = f"refs/shipyard/ship/{slot.info.key}"
            exclude = [node.last] if node.last else []
            data = await asyncio.to_thread(_bundle, repo, ref, sha, exclude)
            await slot.actor.receive.remote(Shipment(sha, ref, data))
            node.holds.add(sha)
            node.last = sha
            return len(data)

    def close(self) -> None:
        for start in list(self._starting):
            start.cancel()
        for actor in list(self._all.values()):
            self._kill(actor)
        self._idle.clear()


def _bundle(repo: GitRepo, ref: str, sha: str, exclude: list[str]) -> bytes:
    set_ref(repo.root, ref, sha)
    return create_bundle(repo.root, ref, exclude)
