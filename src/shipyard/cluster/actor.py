"""`SlotActor`: one worker slot on a Ray node (the executor wraps it with `ray.remote`). Its methods are
async so that event drains answer while a session runs; git work goes to threads."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from shipyard.cluster.node import NodeCommit, NodeJob, NodeModels, NodeSlot, SessionEnd, Shipment
from shipyard.domain import Event
from shipyard.fleet.attempts import Opening
from shipyard.git.attempt import KeptCommit, Snapshot


@dataclass(frozen=True)
class NodeInfo:
    """Where a slot runs."""

    node_id: str
    ip: str
    host: str
    pid: int

    @property
    def key(self) -> str:
        return self.node_id[:16]


class SlotActor:
    def __init__(self, node_dir: str, models: NodeModels) -> None:
        import ray

        ctx = ray.get_runtime_context()
        node_id = ctx.get_node_id()
        ip = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
        self.info = NodeInfo(node_id, ip, socket.gethostname(), os.getpid())
        self.slot = NodeSlot(Path(node_dir), self.info.key, (ctx.get_actor_id() or "driver")[:16], models)

    async def hello(self) -> NodeInfo:
        return self.info

    async def has(self, sha: str) -> bool:
        return await asyncio.to_thread(self.slot.mirror.has, sha)

    async def receive(self, shipment: Shipment) -> None:
        await asyncio.to_thread(self.slot.mirror.receive, shipment)

    async def open(self, job: NodeJob) -> None:
        await asyncio.to_thread(self.slot.open, job)

    async def session(self, conflict: str) -> SessionEnd:
        return await self.slot.session(conflict)

    async def halt(self, reason: str) -> None:
        self.slot.halt(reason)

    async def drain(self) -> list[Event]:
        return self.slot.drain()

    async def markers(self, files: tuple[str, ...]) -> tuple[str, ...]:
        return await asyncio.to_thread(self.slot.markers, files)

    async def notes_chars(self) -> int:
        return await asyncio.to_thread(self.slot.notes_chars)

    async def resume(self, previous: KeptCommit) -> Opening:
        return await asyncio.to_thread(self.slot.resume, previous)

    async def commit(self, message: str, merge_head: str | None) -> NodeCommit:
        return await asyncio.to_thread(self.slot.commit, message, merge_head)

    async def keep(self, snap: Snapshot) -> NodeCommit:
        return await asyncio.to_thread(self.slot.keep, snap)

    async def merge(self, tip: str) -> tuple[str, ...]:
        return await asyncio.to_thread(self.slot.merge, tip)

    async def close(self) -> None:
        await asyncio.to_thread(self.slot.close)
