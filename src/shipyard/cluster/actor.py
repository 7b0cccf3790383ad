"""`SlotActor`: a few worker slots on a Ray node in one process (the executor wraps it with `ray.remote`
and asks Ray for that many `slot_resource` units). Every method names its slot first; `SlotHandle` on the
head speaks to one slot as if it were an actor of its own. Methods are async so that event drains answer
while sessions run; git work goes to threads.

Slots share a process because an idle Ray worker process costs memory (about 100 MB) and CPU of its own:
by default a node of 12 slots runs one process, not 12 (`slots.per_actor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    def __init__(self, node_dir: str, models: NodeModels, slots: int = 1) -> None:
        import ray

        ctx = ray.get_runtime_context()
        node_id = ctx.get_node_id()
        ip = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
        self.info = NodeInfo(node_id, ip, socket.gethostname(), os.getpid())
        actor = (ctx.get_actor_id() or "driver")[:16]
        base = Path(node_dir)
        self.slots = [NodeSlot(base, self.info.key, f"{actor}-{i}", models) for i in range(slots)]
        self._sessions: dict[int, asyncio.Task[SessionEnd]] = {}
        # The mirror's own thread: code arriving for the next tasks never queues behind the slots' git work.
        self._mirror = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shipyard-mirror")

    async def hello(self, i: int = 0) -> NodeInfo:
        del i
        return self.info

    async def has(self, i: int, sha: str) -> bool:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._mirror, self.slots[i].mirror.has, sha)

    async def receive(self, i: int, shipment: Shipment) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._mirror, self.slots[i].mirror.receive, shipment)

    async def open(self, i: int, job: NodeJob) -> int:
        return await asyncio.to_thread(self.slots[i].open, job)

    async def session(self, i: int, conflict: str) -> SessionEnd:
        run = asyncio.get_running_loop().create_task(self.slots[i].session(conflict))
        self._sessions[i] = run
        try:
            return await run
        finally:
            self._sessions.pop(i, None)

    async def stop(self, i: int) -> None:
        """The head gave up on slot `i`'s task (cancelled, stalled): its agent stops now, the slot closes."""
        run = self._sessions.pop(i, None)
        if run is not None:
            run.cancel()
            with contextlib.suppress(BaseException):
                await run
        await asyncio.to_thread(self.slots[i].close)

    async def halt(self, i: int, reason: str) -> None:
        self.slots[i].halt(reason)

    async def drain(self, i: int) -> list[Event]:
        return self.slots[i].drain()

    async def markers(self, i: int, files: tuple[str, ...]) -> tuple[str, ...]:
        return await asyncio.to_thread(self.slots[i].markers, files)

    async def resume(self, i: int, previous: KeptCommit) -> Opening:
        return await asyncio.to_thread(self.slots[i].resume, previous)

    async def commit(self, i: int, message: str, merge_head: str | None) -> NodeCommit:
        return await asyncio.to_thread(self.slots[i].commit, message, merge_head)

    async def keep(self, i: int, snap: Snapshot) -> NodeCommit:
        return await asyncio.to_thread(self.slots[i].keep, snap)

    async def merge(self, i: int, tip: str) -> tuple[str, ...]:
        return await asyncio.to_thread(self.slots[i].merge, tip)


class SlotHandle:
    """One slot of a `SlotActor`, called as an actor of its own: `handle.commit.remote(msg, None)` is
    `actor.commit.remote(i, msg, None)`."""

    def __init__(self, actor: Any, index: int) -> None:
        self.actor = actor
        self.index = index

    def __getattr__(self, method: str) -> _Call:
        if method.startswith("_"):
            raise AttributeError(method)
        return _Call(getattr(self.actor, method), self.index)


class _Call:
    def __init__(self, method: Any, index: int) -> None:
        self._method = method
        self._index = index

    def remote(self, *args: Any) -> Any:
        return self._method.remote(self._index, *args)
