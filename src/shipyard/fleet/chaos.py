"""Chaos mode: seeded worker deaths, git failures and orchestrator kills, to prove nothing is lost.

Provider faults live in `models/chaos.py`; this module covers what happens around the models.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.config import ChaosConfig
from shipyard.domain import Event, Task
from shipyard.errors import GitError
from shipyard.fleet.runtime import Runtime
from shipyard.git import GitRepo, Identity, MergeResult
from shipyard.git.merge import Gate, MergeRequest

TaskRunner = Callable[[str, Task], Coroutine[Any, Any, None]]
_DEATH_WINDOW_S = 0.5


class ChaosDeath(RuntimeError):
    """A worker killed on purpose by chaos mode."""


def dying_runner(rt: Runtime, runner: TaskRunner, cfg: ChaosConfig) -> TaskRunner:
    """Kills a share of workers at a random moment of their task."""
    rng = random.Random(cfg.seed)

    async def run(slot: str, task: Task) -> None:
        if rng.random() >= cfg.worker_death_rate:
            await runner(slot, task)
            return
        inner = asyncio.ensure_future(runner(slot, task))
        done, _ = await asyncio.wait({inner}, timeout=rng.uniform(0, _DEATH_WINDOW_S))
        if done:
            inner.result()
            return
        inner.cancel()
        await asyncio.gather(inner, return_exceptions=True)
        rt.record(Event("WorkerKilled", {"chaos": True}, task.id, slot))
        raise ChaosDeath(f"chaos: {slot} died during task #{task.id}")

    return run


def killer(cfg: ChaosConfig) -> Callable[[Event], None]:
    """A progress hook that SIGKILLs this process after a random event (to exercise `resume`)."""
    rng = random.Random(cfg.seed + os.getpid())

    def maybe_kill(_event: Event) -> None:
        if rng.random() < cfg.kill_rate:
            os.kill(os.getpid(), signal.SIGKILL)

    return maybe_kill


@dataclass(frozen=True)
class ChaosRepo(GitRepo):
    """A `GitRepo` whose worktree, commit and merge calls fail at a set rate (before doing anything)."""

    rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    @classmethod
    def wrap(cls, repo: GitRepo, rate: float, seed: int) -> ChaosRepo:
        return cls(repo.root, repo.git_dir, rate, random.Random(seed))

    def _maybe_fail(self, what: str) -> None:
        if self.rng.random() < self.rate:
            raise GitError([what], 128, "chaos: injected git failure")

    def add_worktree(self, path: Path, branch: str, start: str, spot: Path | None = None) -> Path:
        self._maybe_fail("worktree add")
        return super().add_worktree(path, branch, start, spot)

    def commit_all(
        self,
        worktree: Path,
        message: str,
        author: Identity,
        committer: Identity,
        merge_head: str | None = None,
    ) -> str | None:
        self._maybe_fail("commit")
        return super().commit_all(worktree, message, author, committer, merge_head)

    def merge_onto(
        self, branch: str, commit: str, message: str, author: Identity, committer: Identity
    ) -> MergeResult:
        self._maybe_fail("merge-tree")
        return super().merge_onto(branch, commit, message, author, committer)

    def merge_batch(self, requests: Sequence[MergeRequest], gate: Gate | None = None) -> list[MergeResult]:
        self._maybe_fail("merge-tree")
        return super().merge_batch(requests, gate)
