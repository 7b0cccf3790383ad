"""A worker on a Ray node, driven from the head: the local worker's rounds (`fleet.rounds`) on a
`RemoteWorkplace`, with the agent on the node and the merge here. Code goes out and commits come back as
git bundles; an attempt that does not land is kept here, on the head, so a retry on any node continues it.

A dead actor or node (`RayActorError`) gives the task back to the board at once, with the reason; the
merger only lands a result while the board still says this slot holds the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

from ray.exceptions import ObjectLostError, RayActorError

from shipyard.agent import AgentOutcome
from shipyard.cluster.node import NodeCommit, NodeJob, SessionEnd, Shipment
from shipyard.cluster.relay import Relay
from shipyard.cluster.shipping import Shipper
from shipyard.cluster.slots import Slot, SlotPool
from shipyard.cluster.spend import Spent
from shipyard.cluster.watch import watch_head
from shipyard.domain import Event, Task, TaskStatus
from shipyard.errors import ShipyardError
from shipyard.fleet.attempts import Opening, keep_after
from shipyard.fleet.guard import give_back
from shipyard.fleet.merger import Merger
from shipyard.fleet.rounds import Commit, work_rounds
from shipyard.fleet.runtime import Runtime
from shipyard.git.attempt import KeptCommit, Snapshot
from shipyard.git.bundle import set_ref, store_bundle

_LOST = (RayActorError, ObjectLostError)  # the actor, or its node with a result on it, died

PLACE_TRIES = 3  # slots tried for a task whose slot turns out dead before the task starts
FAILED_STARTS_FATAL = 3  # actors failing to start in a row (each tried `slots.SPAWN_TRIES` times)
Transport = list[tuple[str, float, int]]  # (out|back, ms, bytes), for the bench


class NodeRefused(ShipyardError):
    """A node could not do what the head asked (the message says why, as the node saw it)."""


class RemoteWorkplace:
    """A slot on a node, driven from the head (the `Workplace` of a remote worker)."""

    def __init__(
        self, rt: Runtime, shipper: Shipper, slot: Slot, agent: str, task: Task, transport: Transport
    ) -> None:
        self.rt, self.shipper, self.slot = rt, shipper, slot
        self.agent, self.task = agent, task
        self.relay = Relay(rt, slot.actor, task, agent)
        self.transport = transport  # bundles out and back, timed
        self._notes_chars = 0  # NOTES.md's size as the node last said (with `open` and each session's end)

    async def open(self, start: str, prompts: dict[str, str]) -> None:
        """Send the node the shared branch's tip (what it lacks of it) and start the task there."""
        await self._ship(start)
        job = NodeJob(self.rt.config, self.task, self.agent, start, prompts, Spent.of(self.rt))
        self._notes_chars = await self.slot.actor.open.remote(job)

    async def session(self, conflict: str) -> AgentOutcome:
        end: SessionEnd = await self.slot.actor.session.remote(conflict)
        await self.relay.pull(end.events)  # the session's last events land before anything is decided
        self._notes_chars = end.notes_chars
        if end.fatal:
            self.rt.stop.set_fatal(end.fatal)
        return end.outcome

    async def markers(self, files: tuple[str, ...]) -> tuple[str, ...]:
        left: tuple[str, ...] = await self.slot.actor.markers.remote(files)
        return left

    async def notes_chars(self) -> int:
        return self._notes_chars

    async def continue_from(self, previous: KeptCommit) -> Opening:
        """Ship the kept attempt (kept here, from whichever node made it) and continue it on the node."""
        await self._ship(previous.sha)
        opening: Opening = await self.slot.actor.resume.remote(previous)
        return opening

    async def commit(self, message: str, merge_head: str | None) -> Commit:
        """Commit on the node and fetch it here, unless the board gives the task to another worker now."""
        back: NodeCommit = await self.slot.actor.commit.remote(message, merge_head)
        if not self._holds():
            data = {"commit": back.shipment.sha if back.shipment else ""}
            self.rt.record(Event("ResultStale", data, self.task.id, self.agent))
            return Commit(stale=True)
        if back.shipment is None:
            return Commit(refused=back.refused)
        return Commit(await self._fetch(back.shipment))

    async def merge_latest(self) -> tuple[tuple[str, ...], str]:
        rt = self.rt
        tip = await asyncio.to_thread(rt.repo.rev_parse, rt.config.branch) or rt.config.branch
        await self._ship(tip)
        files: tuple[str, ...] = await self.slot.actor.merge.remote(tip)
        return files, tip

    async def keep(self, snap: Snapshot) -> str | None:
        """Keep the node's worktree on `snap.ref` here: the node commits it and sends it back."""
        kept = await asyncio.to_thread(self.rt.repo.rev_parse, snap.ref)
        if kept is not None:
            return kept  # a kept attempt is never overwritten
        back: NodeCommit = await self.slot.actor.keep.remote(snap)
        if back.refused:
            raise NodeRefused(back.refused)
        return None if back.shipment is None else await self._fetch(back.shipment, snap.ref)

    async def _ship(self, sha: str) -> None:
        """Make sure the node holds `sha`; the wait is timed (0 when it did: see `shipping`)."""
        waited = await self.shipper.ensure(self.rt.repo, self.slot, sha)
        self.transport.append(("out", waited, 0))

    async def _fetch(self, back: Shipment, ref: str | None = None) -> str:
        """Store the node's commit in the head's repository (on `ref`, if given); its sha. Every object is
        checked, and what it points to must be here. A commit to merge needs no ref: the merger takes
        its sha, and git's maintenance never prunes an object this young."""
        started, root = time.monotonic(), self.rt.repo.root
        await asyncio.to_thread(_store, root, back, ref)
        self.transport.append(("back", (time.monotonic() - started) * 1000, len(back.data)))
        return back.sha

    def _holds(self) -> bool:
        """Whether the board still gives the task to this slot (a stale attempt's result is dropped)."""
        current = self.rt.board.get(self.task.id)
        return current.status is TaskStatus.CLAIMED and current.lease_holder == self.agent


class RemoteRunner:
    """The `TaskRunner` of the Ray executor."""

    def __init__(
        self,
        rt: Runtime,
        merger: Merger,
        pool: SlotPool,
        shipper: Shipper | None = None,
        head: str | None = None,
    ) -> None:
        self._rt = rt
        self._merger = merger
        self._pool = pool
        self._shipper = shipper or Shipper()
        self._head = head  # the Ray GCS's HOST:PORT, watched while the run works (`cluster.watch`)
        self._watcher: asyncio.Task[None] | None = None
        # For the bench: how long each task waited for code to be on its node ("out", 0 when it was) and
        # for its commit to come back ("back"), with the bytes.
        self.transport_ms: Transport = []

    async def __call__(self, agent: str, task: Task) -> None:
        if self._head is not None and self._watcher is None:
            grace = self._rt.config.cluster.head_lost_s
            self._watcher = asyncio.get_running_loop().create_task(watch_head(self._rt, self._head, grace))
        slot = None
        try:
            place = await self._place(agent, task)
            slot = place.slot
            await self._work(place)
            self._settled(slot)
        except _LOST as exc:
            if slot is not None:
                self._lost_slot(slot)
            self._lost(agent, task, exc)
            self._stop_if_no_slot_starts(exc)
        except BaseException:
            if slot is not None:  # cancelled or crashed: its agent must not go on spending
                self._lost_slot(slot, kill=True)
            raise
        finally:
            self._merger.release(task.id)

    async def _place(self, agent: str, task: Task) -> RemoteWorkplace:
        """A slot with the task open on it. A slot whose actor died before the task started there is
        dropped and another one taken (the task did nothing yet: it is not given back for that)."""
        rt, prompts = self._rt, _prompts(self._rt)
        for attempt in range(PLACE_TRIES):
            slot = await self._pool.acquire()
            place = RemoteWorkplace(rt, self._shipper, slot, agent, task, self.transport_ms)
            try:
                tip = self._merger.tip or await asyncio.to_thread(rt.repo.rev_parse, rt.config.branch)
                start = self._shipper.start_for(rt.repo, slot, tip or rt.config.branch)
                await place.open(start, prompts)
            except _LOST:
                self._lost_slot(slot)
                if attempt == PLACE_TRIES - 1:
                    raise
                continue
            except BaseException:
                self._lost_slot(slot, kill=True)
                raise
            data = {"node": slot.info.ip, "node_id": slot.info.key, "host": slot.info.host}
            rt.record(Event("WorkerPlaced", data, task.id, agent))
            return place
        raise AssertionError("unreachable")

    async def _work(self, place: RemoteWorkplace) -> None:
        """Run the task's rounds on the node while its events come here; keep what did not land."""
        rt, agent, task = self._rt, place.agent, place.task
        follower = asyncio.get_running_loop().create_task(place.relay.follow(rt.config.cluster.poll_s))
        try:
            await work_rounds(rt, self._merger, place, agent, task)
        finally:
            error = sys.exc_info()[1]
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError, *_LOST):
                await follower
            if not isinstance(error, _LOST):  # a lost node took its worktree along: nothing to keep
                await keep_after(rt, task, agent, place.keep, error)

    def _settled(self, slot: Slot) -> None:
        """The task is settled: the slot takes the next one (whose `open` clears this task's worktree)."""
        if self._merger.tip:  # the tip as this task left it: how fresh each node's code is
            self._shipper.saw_tip(self._merger.tip)
        self._pool.release(slot)

    def _lost_slot(self, slot: Slot, kill: bool = False) -> None:
        self._pool.lost(slot, kill)
        self._shipper.lost(slot)

    def _stop_if_no_slot_starts(self, exc: Exception) -> None:
        """Actors that fail to start again and again (the nodes lack Shipyard, or its version): the run
        stops with one line instead of spending every task's attempts on it."""
        if self._pool.failed_starts >= FAILED_STARTS_FATAL:
            detail = " ".join(str(exc).split())[:200]
            self._rt.stop.set_fatal(
                f"{self._pool.failed_starts} worker slots in a row could not start on the Ray cluster "
                f"({type(exc).__name__}: {detail}); check the nodes with `shipyard doctor`"
            )

    def _lost(self, agent: str, task: Task, exc: Exception) -> None:
        """The actor or its node died: the task goes back now (not when its lease runs out)."""
        reason = f"lost: {type(exc).__name__}: the worker's actor or node died"
        self._rt.record(
            Event("WorkerLost", {"error": type(exc).__name__, "detail": str(exc)[:300]}, task.id, agent)
        )
        give_back(self._rt, task, agent, reason)


def _store(root: Path, back: Shipment, ref: str | None) -> None:
    store_bundle(root, back.data, strict=True)
    if ref is not None:
        set_ref(root, ref, back.sha)


def _prompts(rt: Runtime) -> dict[str, str]:
    """The run's prompt overrides, which live on the head (the node has no `prompts_dir`)."""
    folder: Path = rt.prompts_dir()
    if not folder.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.md")) if p.is_file()}
