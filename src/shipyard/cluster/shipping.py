"""Code to the nodes: each node's mirror gets the shared branch's newest tip as a git bundle of what it
lacks, at most one shipment in flight per node, off the tasks' critical path.

A task starts from its node's newest commit of the shared branch when that commit was the tip less than
`FRESH_S` ago (the newer tip follows in the background once that start lags by `FOLLOW_S`), so a task
waits for code only on a node's first contact, when its node has fallen behind, or for a conflict round
(which must merge the exact tip). Starting a moment behind the tip is what a local worker does too: the
tip moves while it works, and the merger merges either way.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ray.exceptions import RayActorError

from shipyard.cluster.node import Shipment
from shipyard.cluster.slots import Slot
from shipyard.git import GitRepo
from shipyard.git.bundle import create_bundle

FRESH_S = 2.0  # how long a superseded tip still makes a good start for a new task
# How long a node's start may lag before the newer tip is sent after it: shipping each new tip at once
# cost a git process here and one there per merge batch; this leaves FRESH_S - FOLLOW_S for it to land.
FOLLOW_S = 1.0
TIPS_KEPT = 256


@dataclass(frozen=True)
class Sent:
    """One shipment, for the bench: how long it took (bundle made here, fetched there) and its size."""

    ms: float
    size: int


@dataclass
class _Node:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holds: set[str] = field(default_factory=set)
    last: str | None = None  # the last commit sent (the next bundle builds on it)
    wanted: str | None = None  # the tip to send next, in the background
    courier: Slot | None = None  # a live slot on the node, through which shipments go
    follower: asyncio.Task[None] | None = None


class Shipper:
    """What each node holds, and the shipments that keep it current."""

    def __init__(self) -> None:
        self._nodes: dict[tuple[Path, str], _Node] = {}
        self._tips: deque[tuple[str, float]] = deque(maxlen=TIPS_KEPT)  # (tip, when it was first seen)
        self._git = ThreadPoolExecutor(max_workers=2, thread_name_prefix="shipyard-ship")
        self.sent: list[Sent] = []

    def saw_tip(self, sha: str) -> None:
        """The shared branch's tip now (called at each task start and after each merge)."""
        if not self._tips or self._tips[-1][0] != sha:
            self._tips.append((sha, time.monotonic()))

    def start_for(self, repo: GitRepo, slot: Slot, tip: str) -> str:
        """Where a new task on `slot` starts: `tip` when its node holds it (or holds nothing yet), else the
        node's newest commit that was the tip less than `FRESH_S` ago, while `tip` follows."""
        node = self._node(repo, slot)
        self.saw_tip(tip)
        held = None if tip in node.holds or node.last is None else self._newest_fresh(node.holds)
        if held is None:
            return tip
        start, superseded = held
        if time.monotonic() - superseded >= FOLLOW_S:
            self._follow(repo, node, tip)
        return start

    async def ensure(self, repo: GitRepo, slot: Slot, sha: str) -> float:
        """Make sure `slot`'s node holds `sha`; the ms this waited (0 when the node had it)."""
        node = self._node(repo, slot)
        if sha in node.holds:
            return 0.0
        started = time.monotonic()
        async with node.lock:
            if sha not in node.holds:
                await self._send(repo, node, slot, sha)
        return (time.monotonic() - started) * 1000

    def lost(self, slot: Slot) -> None:
        """A slot died: it carries no more shipments."""
        for node in self._nodes.values():
            if node.courier is slot:
                node.courier = None

    def close(self) -> None:
        for node in self._nodes.values():
            if node.follower is not None:
                node.follower.cancel()
        self._git.shutdown(wait=False, cancel_futures=True)

    def _node(self, repo: GitRepo, slot: Slot) -> _Node:
        node = self._nodes.setdefault((repo.root, slot.info.node_id), _Node())
        node.courier = slot
        return node

    def _newest_fresh(self, holds: set[str]) -> tuple[str, float] | None:
        """The newest tip among `holds` that was superseded less than `FRESH_S` ago, and when it was."""
        now, superseded = time.monotonic(), None
        for sha, seen in reversed(self._tips):
            if superseded is not None and now - superseded >= FRESH_S:
                return None
            if sha in holds and superseded is not None:
                return sha, superseded
            superseded = seen
        return None

    def _follow(self, repo: GitRepo, node: _Node, tip: str) -> None:
        """Send `tip` to the node in the background (after what is in flight; only the newest is sent)."""
        node.wanted = tip
        if node.follower is None or node.follower.done():
            node.follower = asyncio.get_running_loop().create_task(self._catch_up(repo, node))

    async def _catch_up(self, repo: GitRepo, node: _Node) -> None:
        while node.wanted is not None and node.wanted not in node.holds and node.courier is not None:
            sha, courier = node.wanted, node.courier
            try:
                async with node.lock:
                    if sha not in node.holds:
                        await self._send(repo, node, courier, sha)
            except RayActorError:  # the courier died: the next task on the node brings another
                if node.courier is courier:
                    node.courier = None

    async def _send(self, repo: GitRepo, node: _Node, slot: Slot, sha: str) -> None:
        """Ship `sha` (and what the node lacks of it) to the node; the caller holds `node.lock`."""
        started = time.monotonic()
        if node.last is None and await slot.actor.has.remote(sha):  # first contact: a node keeps its
            node.holds.add(sha)  # mirror across runs; later, it holds what was sent
            node.last = sha
            return
        exclude = [node.last] if node.last else []
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(self._git, create_bundle, repo.root, sha, exclude)
        if data:  # else `sha` is in what the node was sent last
            await slot.actor.receive.remote(Shipment(sha, data))
            node.last = sha
            self.sent.append(Sent((time.monotonic() - started) * 1000, len(data)))
        node.holds.add(sha)
