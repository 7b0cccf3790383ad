"""Lands finished work on the shared branch: mechanical merges, never waiting on an LLM.

Commits that finish while a merge is running wait for the next one and then land together: one batch
reads the tip once, merges its commits one after another in memory (each keeps its own merge commit),
moves the branch with one compare-and-swap and syncs the checkout once. Nobody waits for a batch to
fill: a commit that arrives when nothing is merging lands at once, alone. A conflict fails only its own
commit, which goes back to its worker; the rest of the batch lands. The conflict's files are then held
for that task (see `holds`): other commits changing them wait until its resolution lands.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from shipyard.domain import Event, Task
from shipyard.errors import GitError
from shipyard.fleet.holds import Holds
from shipyard.fleet.runtime import HARNESS, Runtime, agent_identity
from shipyard.git import MergeResult
from shipyard.git.merge import MergeRequest

MAX_BATCH = 32


@dataclass(frozen=True)
class _Landing:
    """One commit waiting to land, and where its result goes."""

    task: Task
    agent: str
    commit: str
    result: asyncio.Future[MergeResult]


class Merger:
    """Merges waiting commits in batches onto the shared branch; compare-and-swap in git guards the ref."""

    def __init__(self, rt: Runtime, on_merged: Callable[[str], None], max_batch: int = MAX_BATCH) -> None:
        self._rt = rt
        self._on_merged = on_merged
        self._max_batch = max_batch
        self._waiting: list[_Landing] = []
        self._drainer: asyncio.Task[None] | None = None
        self._tip: str | None = None
        self._holds = Holds(rt.config.fleet.conflict_hold_s)
        self._held_back: list[tuple[_Landing, tuple[str, ...]]] = []  # and the files each one changes
        self._stir = asyncio.Event()  # a commit arrived or a hold ended
        # Its own thread: merges never queue behind worktree and commit work in the shared pool.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shipyard-merger")

    @property
    def tip(self) -> str | None:
        """The shared branch's tip as the last batch left it (None before the first): the merger is the
        only writer of the branch during a run, so new worktrees can start here without asking git."""
        return self._tip

    async def land(self, task: Task, agent: str, commit: str) -> MergeResult:
        """Merge `commit` onto the shared branch; record `CommitMerged` or `MergeConflicted`."""
        loop = asyncio.get_running_loop()
        landing = _Landing(task, agent, commit, loop.create_future())
        self._waiting.append(landing)
        self._wake()
        return await asyncio.shield(landing.result)  # a cancelled worker does not cancel the merge

    def release(self, task_id: int) -> None:
        """The task has ended: the files it held pass on, and commits waiting for them may land."""
        if self._holds.release(task_id):
            self._wake()

    def _wake(self) -> None:
        self._stir.set()
        if (self._waiting or self._held_back) and (self._drainer is None or self._drainer.done()):
            self._drainer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        """Merge batches until nobody is waiting (held-back commits wait for their files)."""
        while self._waiting or self._held_back:
            self._requeue()
            if not self._waiting:
                await self._until_stirred()
                continue
            batch = self._waiting[: self._max_batch]
            del self._waiting[: len(batch)]
            try:
                await self._merge(batch)
            except Exception as exc:  # every worker of the batch hears of the failure
                for landing in batch:
                    if not landing.result.done():
                        landing.result.set_exception(exc)
            except BaseException:  # cancelled: nobody may wait for a merge that will not come
                for landing in [*batch, *self._waiting, *(x for x, _ in self._held_back)]:
                    landing.result.cancel()
                self._waiting.clear()
                self._held_back.clear()
                raise

    def _requeue(self) -> None:
        """Held-back commits whose files are free again go first in line."""
        free, still = [], []
        for landing, paths in self._held_back:
            if self._holds.blocker(landing.task.id, paths) is None:
                free.append(landing)
            else:
                still.append((landing, paths))
        self._held_back = still
        self._waiting[:0] = free

    async def _until_stirred(self) -> None:
        """Wait for a new commit, a hold that ends, or the first hold to run out."""
        self._stir.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stir.wait(), self._holds.next_expiry_s())

    async def _merge(self, batch: Sequence[_Landing]) -> None:
        if self._holds.held():
            batch = await self._hold_back(batch)
            if not batch:
                return
        requests = [self._request(x) for x in batch]
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(self._thread, self._rt.repo.merge_batch, requests)
        for landing, result in zip(batch, results, strict=True):
            self._record(landing, result, len(batch))
            if result.merged:
                self._holds.release(landing.task.id)
            else:
                self._holds.take(landing.task.id, result.conflicts)
        start, end = results[0].old_tip, _last_tip(results)
        self._tip = end or self._tip
        if start is not None and end is not None and end != start:
            await self._sync_checkout(start, end)
            self._on_merged(end)
        for landing, result in zip(batch, results, strict=True):
            if not landing.result.done():
                landing.result.set_result(result)

    async def _hold_back(self, batch: Sequence[_Landing]) -> list[_Landing]:
        """The landings free to merge now; the others wait in `_held_back` for the files they change."""
        checked = [x for x in batch if not self._holds.holds_any(x.task.id)]  # a holder never waits
        loop = asyncio.get_running_loop()
        changed = await loop.run_in_executor(self._thread, self._changed_paths, checked)
        waits: set[int] = set()
        for landing, paths in zip(checked, changed, strict=True):
            holder = self._holds.blocker(landing.task.id, paths)
            if holder is None:
                continue
            waits.add(id(landing))
            self._held_back.append((landing, paths))
            data = {"commit": landing.commit, "holder": holder}
            self._rt.record(Event("MergeHeld", data, landing.task.id, landing.agent))
        return [x for x in batch if id(x) not in waits]

    def _changed_paths(self, landings: Sequence[_Landing]) -> list[tuple[str, ...]]:
        """The files each landing's commit changes against the tip (in the merger's thread); none when
        git cannot say (the merge itself will then report what is wrong)."""
        repo = self._rt.repo
        tip = self._tip or repo.rev_parse(self._rt.config.branch)
        changed: list[tuple[str, ...]] = []
        for landing in landings:
            try:
                changed.append(repo.changed_paths(tip, landing.commit) if tip else ())
            except GitError:
                changed.append(())
        return changed

    def _request(self, landing: _Landing) -> MergeRequest:
        task, agent = landing.task, landing.agent
        message = f"{task.title}\n\nShipyard-Task: #{task.id}\nShipyard-Agent: {agent}\n"
        return MergeRequest(self._rt.config.branch, landing.commit, message, agent_identity(agent), HARNESS)

    def _record(self, landing: _Landing, result: MergeResult, batch: int) -> None:
        task_id, agent = landing.task.id, landing.agent
        if result.merged and result.sha is not None:
            data = {
                "sha": result.sha,
                "commit": landing.commit,
                "old_tip": result.old_tip,
                "fast_forward": result.fast_forward,
                "retries": result.retries,
                "batch": batch,
            }
            self._rt.record(Event("CommitMerged", data, task_id, agent))
        else:
            conflict = {"commit": landing.commit, "files": list(result.conflicts), "retries": result.retries}
            self._rt.record(Event("MergeConflicted", conflict, task_id, agent))

    async def _sync_checkout(self, old: str, new: str) -> None:
        repo, branch = self._rt.repo, self._rt.config.branch
        loop = asyncio.get_running_loop()
        synced = await loop.run_in_executor(self._thread, repo.sync_checkout, branch, old, new)
        if not synced and repo.current_branch() == branch:
            data = {"reason": "local changes in the checkout; run `git reset --keep` there to catch up"}
            self._rt.record(Event("CheckoutBehind", data))


def _last_tip(results: Sequence[MergeResult]) -> str | None:
    """The branch tip after a batch: the last merged result's sha, else where the batch started."""
    for result in reversed(results):
        if result.merged and result.sha is not None:
            return result.sha
    return results[0].old_tip if results else None
