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

from shipyard.domain import Event, Handoff, Task
from shipyard.errors import GitError
from shipyard.fleet.holds import Holds
from shipyard.fleet.landing import BatchGate, Landing, Revoked, merged_event
from shipyard.fleet.runtime import HARNESS, Runtime, agent_identity
from shipyard.git import MergeResult
from shipyard.git.merge import MergeRequest

MAX_BATCH = 32
# What `land` returns for a commit whose task its worker no longer holds: nothing was merged.
REFUSED = MergeResult(False, None, None, (), 0, False)


class Merger:
    """Merges waiting commits in batches onto the shared branch; compare-and-swap in git guards the ref."""

    def __init__(self, rt: Runtime, on_merged: Callable[[str], None], max_batch: int = MAX_BATCH) -> None:
        self._rt = rt
        self._on_merged = on_merged
        self._max_batch = max_batch
        self._waiting: list[Landing] = []
        self._drainer: asyncio.Task[None] | None = None
        self._tip: str | None = None
        self._holds = Holds(rt.config.fleet.conflict_hold_s)
        self._held_back: list[tuple[Landing, tuple[str, ...]]] = []  # and the files each one changes
        self._stir = asyncio.Event()  # a commit arrived or a hold ended
        # Its own thread: merges never queue behind worktree and commit work in the shared pool.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shipyard-merger")

    @property
    def tip(self) -> str | None:
        """The shared branch's tip as the last batch left it (None before the first): the merger is the
        only writer of the branch during a run, so new worktrees can start here without asking git."""
        return self._tip

    async def land(self, task: Task, agent: str, commit: str, handoff: Handoff | None = None) -> MergeResult:
        """Merge `commit` onto the shared branch; record `CommitMerged` or `MergeConflicted`.

        With `handoff`, the merge ends the task (done) in the same board transaction that moves the
        branch, and is refused (`REFUSED`, nothing merged) once `agent` no longer holds the task.
        """
        loop = asyncio.get_running_loop()
        landing = Landing(task, agent, commit, loop.create_future(), handoff)
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

    async def _merge(self, batch: Sequence[Landing]) -> None:
        if self._holds.held():
            batch = await self._hold_back(batch)
            if not batch:
                return
        gate = BatchGate(self._rt, batch)
        try:
            results = await asyncio.get_running_loop().run_in_executor(self._thread, self._merge_in, gate)
        except Revoked as exc:
            self._refuse(batch, exc.task_ids)
            return
        for event in gate.logged:
            self._rt.show(event)
        for landing, result in zip(batch, results, strict=True):
            if landing.handoff is None or not result.merged:
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

    async def _hold_back(self, batch: Sequence[Landing]) -> list[Landing]:
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

    def _changed_paths(self, landings: Sequence[Landing]) -> list[tuple[str, ...]]:
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

    def _merge_in(self, gate: BatchGate) -> list[MergeResult]:
        """Merge the gate's batch (in the merger's thread); settle it when nothing had to move."""
        requests = [self._request(x) for x in gate.batch]
        results = self._rt.repo.merge_batch(requests, gate)
        gate.settle(results)
        return results

    def _refuse(self, batch: Sequence[Landing], task_ids: tuple[int, ...]) -> None:
        """Tasks no longer held get `REFUSED`; the rest of the batch goes back first in line."""
        for landing in batch:
            if landing.task.id in task_ids:
                data = {"commit": landing.commit, "reason": "the task is no longer held (cancelled?)"}
                self._rt.record(Event("MergeRefused", data, landing.task.id, landing.agent))
                if not landing.result.done():
                    landing.result.set_result(REFUSED)
        self._waiting[:0] = [x for x in batch if x.task.id not in task_ids]

    def _request(self, landing: Landing) -> MergeRequest:
        task, agent = landing.task, landing.agent
        message = f"{task.title}\n\nShipyard-Task: #{task.id}\nShipyard-Agent: {agent}\n"
        return MergeRequest(self._rt.config.branch, landing.commit, message, agent_identity(agent), HARNESS)

    def _record(self, landing: Landing, result: MergeResult, batch: int) -> None:
        task_id, agent = landing.task.id, landing.agent
        if result.merged and result.sha is not None:
            self._rt.record(merged_event(landing, result, batch))
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
