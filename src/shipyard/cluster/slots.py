"""The head's worker slots on Ray: one actor per slot, spawned on first use and again after a death,
and the commits each node holds (a node is sent only what it lacks, as a bundle)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
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
    """Actors by slot name; `ready` gives a live one, `lost` forgets one, `close` kills them all."""

    def __init__(self, repo: GitRepo, cluster: ClusterConfig, models: NodeModels) -> None:
        self._repo = repo
        self._cluster = cluster
        self._models = models
        self._remote = ray.remote(SlotActor)
        self._slots: dict[str, Slot] = {}
        self._nodes: dict[str, _Node] = {}

    async def ready(self, name: str) -> Slot:
        """The slot's live actor, spawned (with backoff, `SPAWN_TRIES` times) when it has none."""
        slot = self._slots.get(name)
        if slot is not None:
            return slot
        delay = SPAWN_BACKOFF_S
        for attempt in range(SPAWN_TRIES):
            actor = self._spawn()
            try:
                info = await actor.hello.remote()
            except RayActorError:
                if attempt == SPAWN_TRIES - 1:
                    raise
                await asyncio.sleep(delay)
                delay *= 2
                continue
            slot = self._slots[name] = Slot(actor, info)
            return slot
        raise AssertionError("unreachable")

    def _spawn(self) -> Any:
        options: dict[str, Any] = {
            "num_cpus": 0,
            "resources": {self._cluster.slot_resource: 1},
            "max_restarts": 0,  # the board decides what runs again, never Ray
            "max_task_retries": 0,
            "scheduling_strategy": "SPREAD",
        }
        return self._remote.options(**options).remote(self._cluster.node_dir, self._models)

    def lost(self, name: str, kill: bool = False) -> None:
        """Forget the slot's actor (dead, or killed here when `kill`); the next `ready` spawns anew."""
        slot = self._slots.pop(name, None)
        if slot is not None and kill:
            ray.kill(slot.actor, no_restart=True)

    async def ship(self, slot: Slot, sha: str) -> int:
        """Make sure the slot's node holds `sha`; the bytes sent (0 when it had it)."""
        node = self._nodes.setdefault(slot.info.node_id, _Node())
        async with node.lock:
            if sha in node.holds:
                return 0
            if await slot.actor.has.remote(sha):
                node.holds.add(sha)
                return 0
            ref = f"refs/shipyard/ship/{slot.info.key}"
            exclude = [node.last] if node.last else []
            data = await asyncio.to_thread(self._bundle, ref, sha, exclude)
            await slot.actor.receive.remote(Shipment(sha, ref, data))
            node.holds.add(sha)
            node.last = sha
            return len(data)

    def _bundle(self, ref: str, sha: str, exclude: list[str]) -> bytes:
        set_ref(self._repo.root, ref, sha)
        return create_bundle(self._repo.root, ref, exclude)

    def close(self) -> None:
        for name in list(self._slots):
            self.lost(name, kill=True)
