"""A worker on one task in this process: its own worktree and branch, the rounds (`fleet.rounds`), the
kept attempt when it did not land."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path

from shipyard.agent import AgentOutcome
from shipyard.domain import Task
from shipyard.errors import BoardError, UnsafeWorktreeError
from shipyard.fleet.attempts import Opening, continue_attempt, keep_after, worktree_keeper
from shipyard.fleet.briefing import notes_size
from shipyard.fleet.merger import Merger
from shipyard.fleet.rounds import Commit, with_markers, work_rounds, worker_session
from shipyard.fleet.rounds import handoff_of as handoff_of
from shipyard.fleet.runtime import HARNESS, Runtime, agent_identity
from shipyard.git.attempt import KeptCommit, Snapshot


@dataclass
class LocalWorkplace:
    """A worker's worktree of the run's repository, on its own branch (the local `Workplace`)."""

    rt: Runtime
    agent: str
    task: Task
    worktree: Path
    branch: str
    start: str  # the shared branch's tip the worktree was made from

    async def session(self, conflict: str) -> AgentOutcome:
        return await worker_session(self.rt, self.agent, self.task, self.worktree, conflict)

    async def markers(self, files: tuple[str, ...]) -> tuple[str, ...]:
        return with_markers(self.worktree, files)

    async def notes_chars(self) -> int:
        return notes_size(self.worktree)

    async def continue_from(self, previous: KeptCommit) -> Opening:
        rt, task, agent = self.rt, self.task, self.agent
        return await asyncio.to_thread(continue_attempt, rt, task, agent, self.worktree, previous)

    async def commit(self, message: str, merge_head: str | None) -> Commit:
        return await asyncio.to_thread(self._commit, message, merge_head)

    def _commit(self, message: str, merge_head: str | None) -> Commit:
        repo, identity = self.rt.repo, agent_identity(self.agent)
        try:
            made = repo.commit_all(self.worktree, message, identity, HARNESS, merge_head)
        except UnsafeWorktreeError as exc:
            return Commit(refused=str(exc))
        return Commit(made or self._unmerged_head())

    def _unmerged_head(self) -> str | None:
        """The branch's tip when nothing new was committed: None unless it holds work the shared branch
        lacks (a fresh commit needs no such check: it cannot be on the shared branch yet)."""
        repo = self.rt.repo
        head = repo.rev_parse(self.branch)
        if head is None or head == self.start or repo.contains(self.rt.config.branch, head):
            return None
        return head

    async def merge_latest(self) -> tuple[tuple[str, ...], str]:
        return await asyncio.to_thread(self._merge_latest)

    def _merge_latest(self) -> tuple[tuple[str, ...], str]:
        repo, branch = self.rt.repo, self.rt.config.branch
        tip = repo.rev_parse(branch) or branch
        return repo.start_merge(self.worktree, tip), tip

    async def keep(self, snap: Snapshot) -> str | None:
        return await worktree_keeper(self.rt, self.worktree)(snap)


async def work_on(rt: Runtime, merger: Merger, agent: str, task: Task) -> None:
    """Carry one claimed task to its end: merged (done), returned to the board, or failed."""
    name = f"{agent}-task-{task.id}"
    tip = merger.tip or await asyncio.to_thread(rt.repo.rev_parse, rt.config.branch)
    place = LocalWorkplace(
        rt, agent, task, rt.worktree_path(name), f"shipyard/{name}", tip or rt.config.branch
    )
    spot = rt.parking_spot(agent)
    beat = asyncio.get_running_loop().create_task(_heartbeat(rt, agent, task))
    try:
        await asyncio.to_thread(rt.repo.add_worktree, place.worktree, place.branch, place.start, spot)
        await work_rounds(rt, merger, place, agent, task)
    finally:
        merger.release(task.id)  # whatever files it held for a conflict pass on
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        await keep_after(rt, task, agent, place.keep, sys.exc_info()[1])  # unless it landed
        await asyncio.to_thread(rt.repo.remove_worktree, place.worktree, place.branch, spot)


async def _heartbeat(rt: Runtime, agent: str, task: Task) -> None:
    """Renew the lease until the task ends; once it is lost (cancelled, expired) the scheduler stops the
    agent and the merge is refused, so there is nothing more to renew."""
    lease_s = rt.config.fleet.lease_s
    while True:
        await asyncio.sleep(lease_s / 3)
        try:
            rt.board.heartbeat(task.id, agent, lease_s)
        except BoardError:
            return
