"""Lands finished work on the shared branch: mechanical merges, never waiting on an LLM."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from shipyard.domain import Event, Task
from shipyard.fleet.runtime import HARNESS, Runtime, agent_identity
from shipyard.git import MergeResult


class Merger:
    """Merges one commit at a time onto the shared branch; compare-and-swap in git guards the ref too."""

    def __init__(self, rt: Runtime, on_merged: Callable[[str], None]) -> None:
        self._rt = rt
        self._on_merged = on_merged
        self._lock = asyncio.Lock()

    async def land(self, task: Task, agent: str, commit: str) -> MergeResult:
        """Merge `commit` onto the shared branch; record `CommitMerged` or `MergeConflicted`."""
        branch = self._rt.config.branch
        message = f"{task.title}\n\nShipyard-Task: #{task.id}\nShipyard-Agent: {agent}\n"
        async with self._lock:
            result = await asyncio.to_thread(
                self._rt.repo.merge_onto, branch, commit, message, agent_identity(agent), HARNESS
            )
            if result.merged and result.sha is not None:
                self._record_merge(task, agent, commit, result)
                await self._sync_checkout(result)
                self._on_merged(result.sha)
            else:
                data = {"commit": commit, "files": list(result.conflicts), "retries": result.retries}
                self._rt.record(Event("MergeConflicted", data, task.id, agent))
        return result

    def _record_merge(self, task: Task, agent: str, commit: str, result: MergeResult) -> None:
        data = {
            "sha": result.sha,
            "commit": commit,
            "old_tip": result.old_tip,
            "fast_forward": result.fast_forward,
            "retries": result.retries,
        }
        self._rt.record(Event("CommitMerged", data, task.id, agent))

    async def _sync_checkout(self, result: MergeResult) -> None:
        if result.old_tip is None or result.sha is None:
            return
        repo, branch = self._rt.repo, self._rt.config.branch
        synced = await asyncio.to_thread(repo.sync_checkout, branch, result.old_tip, result.sha)
        if not synced and repo.current_branch() == branch:
            data = {"reason": "local changes in the checkout; run `git reset --keep` there to catch up"}
            self._rt.record(Event("CheckoutBehind", data))
