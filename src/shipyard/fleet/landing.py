"""The board's side of a merge: a task ends with its merge, in the transaction that moves the branch.

The branch's compare-and-swap runs inside the board's write transaction (`Board.land`), after checking
that every task of the batch is still claimed by its worker. A task cancelled meanwhile (by the person,
a planner or an expired lease) makes the batch refused; it is merged again without that commit. So a
cancelled task's commit never reaches the shared branch, and a merged task is always on the board.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from shipyard.board.base import Completion
from shipyard.domain import Event, Handoff, Task
from shipyard.fleet.runtime import Runtime
from shipyard.git import MergeResult


@dataclass(frozen=True)
class Landing:
    """One commit waiting to land, where its result goes, and (when the merge ends the task) the handoff."""

    task: Task
    agent: str
    commit: str
    result: asyncio.Future[MergeResult]
    handoff: Handoff | None = None


class Revoked(Exception):
    """Tasks of a batch were no longer held by their workers: nothing moved."""

    def __init__(self, task_ids: tuple[int, ...]) -> None:
        super().__init__(f"tasks no longer held: {', '.join(map(str, task_ids))}")
        self.task_ids = task_ids


def merged_event(landing: Landing, result: MergeResult, batch: int) -> Event:
    data = {
        "sha": result.sha,
        "commit": landing.commit,
        "old_tip": result.old_tip,
        "fast_forward": result.fast_forward,
        "retries": result.retries,
        "batch": batch,
    }
    return Event("CommitMerged", data, landing.task.id, landing.agent)


@dataclass
class BatchGate:
    """git's merge gate for one batch: runs the swap inside `Board.land` (see the module's doc)."""

    rt: Runtime
    batch: Sequence[Landing]
    logged: tuple[Event, ...] = ()
    settled: bool = False
    _lost: list[str | None] = field(default_factory=lambda: [None])

    def __call__(self, results: Sequence[MergeResult], swap: Callable[[], str | None]) -> str | None:
        def move() -> bool:
            self._lost[0] = swap()
            return self._lost[0] is None

        self._land(results, move)
        return self._lost[0]

    def settle(self, results: Sequence[MergeResult]) -> None:
        """End the merged tasks of a batch that moved nothing (its commits were all on the branch)."""
        if not self.settled:
            self._land(results, lambda: True)

    def _land(self, results: Sequence[MergeResult], move: Callable[[], bool]) -> None:
        completions, events = [], []
        for landing, result in zip(self.batch, results, strict=True):
            if landing.handoff is None or not result.merged or result.sha is None:
                continue
            completions.append(Completion(landing.task.id, landing.agent, (result.sha,), landing.handoff))
            events.append(merged_event(landing, result, len(self.batch)))
        if not completions:
            self.settled = move()
            return
        landed = self.rt.board.land(completions, move, events)
        if landed.refused:
            raise Revoked(landed.refused)
        self.settled = bool(landed.events)
        self.logged = landed.events
