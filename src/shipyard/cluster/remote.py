"""A worker on a Ray node, driven from the head: the same rounds as a local worker (`fleet.worker`), with
the agent on the node and the merge here. Code goes out and commits come back as git bundles.

A dead actor or node (`RayActorError`) gives the task back to the board at once, with the reason; the
merger only lands a result while the board still says this slot holds the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from ray.exceptions import ObjectLostError, RayActorError

from shipyard.agent import StopReason
from shipyard.cluster.node import NodeJob, SessionEnd, Shipment
from shipyard.cluster.relay import Relay
from shipyard.cluster.slots import Slot, SlotPool
from shipyard.cluster.spend import Spent, halt_when_over
from shipyard.domain import Event, Handoff, Task, TaskStatus
from shipyard.fleet.guard import give_back
from shipyard.fleet.merger import Merger
from shipyard.fleet.runtime import Runtime
from shipyard.fleet.worker import _conflict_text as conflict_text
from shipyard.fleet.worker import _uninterrupted as uninterrupted
from shipyard.fleet.worker import handoff_of
from shipyard.git.bundle import delete_ref, fetch_bundle


@dataclass
class RemoteSeat:
    agent: str
    task: Task
    slot: Slot
    merge_head: str | None = None

    @property
    def branch(self) -> str:
        return f"shipyard/{self.agent}-task-{self.task.id}"


class RemoteRunner:
    """The `TaskRunner` of the Ray executor."""

    def __init__(self, rt: Runtime, merger: Merger, pool: SlotPool) -> None:
        self._rt = rt
        self._merger = merger
        self._pool = pool
        self.transport_ms: list[tuple[str, float, int]] = []  # (out|back, ms, bytes), for the bench

    async def __call__(self, agent: str, task: Task) -> None:
        rt, slot = self._rt, None
        try:
            slot = await self._pool.acquire()
            seat = RemoteSeat(agent, task, slot)
            data = {"node": slot.info.ip, "node_id": slot.info.key, "host": slot.info.host}
            rt.record(Event("WorkerPlaced", data, task.id, agent))
            start = self._merger.tip or await asyncio.to_thread(rt.repo.rev_parse, rt.config.branch)
            await self._ship(slot, start or rt.config.branch)
            job = NodeJob(rt.config, task, agent, start or "", _prompts(rt), Spent.of(rt))
            await slot.actor.open.remote(job)
            relay = Relay(rt, slot.actor, task, agent)
            follower = asyncio.get_running_loop().create_task(relay.follow(rt.config.cluster.poll_s))
            halter = asyncio.get_running_loop().create_task(
                halt_when_over(rt, slot.actor, rt.config.cluster.poll_s)
            )
            try:
                await self._attempt(seat, relay)
            finally:
                follower.cancel()
                halter.cancel()
                with contextlib.suppress(asyncio.CancelledError, RayActorError):
                    await follower
                with contextlib.suppress(asyncio.CancelledError):
                    await halter
            await self._close(slot)
        except (RayActorError, ObjectLostError) as exc:  # the actor, or its node with a result on it, died
            if slot is not None:
                self._pool.lost(slot)
            self._lost(agent, task, exc)
        except BaseException:
            if slot is not None:  # cancelled or crashed: its agent must not go on spending
                self._pool.lost(slot, kill=True)
            raise
        finally:
            self._merger.release(task.id)
            await asyncio.to_thread(delete_ref, rt.repo.root, f"refs/heads/shipyard/{agent}-task-{task.id}")

    async def _close(self, slot: Slot) -> None:
        """The task is settled: clear the node's worktree and put the actor back (if it still lives)."""
        try:
            await slot.actor.close.remote()
        except RayActorError:
            self._pool.lost(slot)
            return
        self._pool.release(slot)

    def _lost(self, agent: str, task: Task, exc: Exception) -> None:
        """The actor or its node died: the task goes back now (not when its lease runs out)."""
        reason = f"lost: {type(exc).__name__}: the worker's actor or node died"
        self._rt.record(
            Event("WorkerLost", {"error": type(exc).__name__, "detail": str(exc)[:300]}, task.id, agent)
        )
        give_back(self._rt, task, agent, reason)

    async def _ship(self, slot: Slot, sha: str) -> None:
        started = time.monotonic()
        sent = await self._pool.ship(self._rt.repo, slot, sha)
        if sent:
            self.transport_ms.append(("out", (time.monotonic() - started) * 1000, sent))

    async def _session(self, seat: RemoteSeat, relay: Relay, conflict: str) -> SessionEnd:
        end: SessionEnd = await seat.slot.actor.session.remote(conflict)
        await relay.pull()  # the session's last events land before anything is decided on them
        if end.fatal:
            self._rt.stop.set_fatal(end.fatal)
        return end

    async def _attempt(self, seat: RemoteSeat, relay: Relay) -> None:
        rt = self._rt
        files: tuple[str, ...] = ()
        conflict, rounds = "", rt.config.fleet.max_conflict_rounds
        for _ in range(rounds + 1):
            end = await self._session(seat, relay, conflict)
            handoff = handoff_of(end.outcome)
            if end.outcome.stop_reason is not StopReason.FINISHED:
                self._give_back(seat, f"agent stopped: {end.outcome.stop_reason.value}", handoff)
                return
            unresolved: tuple[str, ...] = await seat.slot.actor.markers.remote(files)
            if unresolved:
                files, conflict = unresolved, conflict_text(rt, unresolved, still=True)
                continue
            landed, files = await uninterrupted(self._commit_and_land(seat, handoff))
            if landed or not files:
                return
            conflict = conflict_text(rt, files)
        reason = f"merge conflicts not resolved after {rounds} rounds: {conflict.splitlines()[0]}"
        rt.board.fail(seat.task.id, reason, handoff)

    async def _commit_and_land(self, seat: RemoteSeat, handoff: Handoff) -> tuple[bool, tuple[str, ...]]:
        """Commit on the node, fetch it here and merge it; returns (landed, files in conflict)."""
        rt, actor = self._rt, seat.slot.actor
        summary = rt.redact(handoff.summary)
        message = f"{seat.task.title}\n\n{summary}\n\nShipyard-Task: #{seat.task.id}\n"
        head = await self._fetch(seat, await actor.commit.remote(message, seat.merge_head))
        seat.merge_head = None
        if head is None:
            self._give_back(seat, "finished without changes to merge", handoff)
            return False, ()
        for _ in range(3):
            if not self._holds(seat):
                rt.record(Event("ResultStale", {"commit": head}, seat.task.id, seat.agent))
                return False, ()
            result = await self._merger.land(seat.task, seat.agent, head)
            if result.merged and result.sha is not None:
                rt.board.complete(seat.task.id, seat.agent, [result.sha], handoff)
                return True, ()
            tip = await asyncio.to_thread(rt.repo.rev_parse, rt.config.branch) or rt.config.branch
            await self._ship(seat.slot, tip)
            files: tuple[str, ...] = await actor.merge.remote(tip)
            if files:
                seat.merge_head = tip
                return False, files
            head = await self._fetch(seat, await actor.commit.remote(message, None)) or head
        self._give_back(seat, "merge kept failing without conflicts", handoff)
        return False, ()

    async def _fetch(self, seat: RemoteSeat, back: Shipment | None) -> str | None:
        """Bring the node's commit into the head's repository (on the seat's branch); its sha."""
        if back is None:
            return None
        started, root = time.monotonic(), self._rt.repo.root
        await asyncio.to_thread(fetch_bundle, root, back.data, [f"{back.ref}:refs/heads/{seat.branch}"])
        self.transport_ms.append(("back", (time.monotonic() - started) * 1000, len(back.data)))
        return back.sha

    def _holds(self, seat: RemoteSeat) -> bool:
        """Whether the board still gives the task to this slot (a stale attempt's result is dropped)."""
        current = self._rt.board.get(seat.task.id)
        return current.status is TaskStatus.CLAIMED and current.lease_holder == seat.agent

    def _give_back(self, seat: RemoteSeat, reason: str, handoff: Handoff) -> None:
        rt = self._rt
        rt.board.release(seat.task.id, seat.agent, reason, rt.config.fleet.max_attempts, handoff)


def _prompts(rt: Runtime) -> dict[str, str]:
    """The run's prompt overrides, which live on the head (the node has no `prompts_dir`)."""
    folder: Path = rt.prompts_dir()
    if not folder.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.md")) if p.is_file()}
