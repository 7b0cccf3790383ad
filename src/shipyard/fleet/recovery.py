"""Crash recovery: bring the board, the leases and git back into agreement before a run continues.

A merge that reached the shared branch but not the board is recorded, never redone; claimed tasks of
workers that died go back to the board; half-made worktrees and branches are removed.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from shipyard.domain import Event, Handoff, Task, TaskStatus
from shipyard.fleet.attempts import keep_leftover
from shipyard.fleet.guard import give_back
from shipyard.fleet.runtime import Runtime

BRANCH_PREFIX = "shipyard/"


@dataclass
class Recovery:
    recorded_merges: list[int] = field(default_factory=list)
    returned: list[int] = field(default_factory=list)
    removed_worktrees: int = 0
    removed_branches: int = 0
    checkout_repaired: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "recorded_merges": self.recorded_merges,
            "returned": self.returned,
            "removed_worktrees": self.removed_worktrees,
            "removed_branches": self.removed_branches,
            "checkout_repaired": self.checkout_repaired,
        }


def reconcile(rt: Runtime) -> Recovery:
    """Settle every claimed task against git, then clear leftovers; logs `RunRecovered`."""
    report = Recovery()
    report.checkout_repaired = rt.repo.finish_interrupted_sync(rt.config.branch)
    logged = {e.task_id for e in rt.board.events() if e.kind == "CommitMerged"}
    for task in rt.board.tasks(TaskStatus.CLAIMED):
        _settle(rt, task, report, task.id in logged)
    _clear_worktrees(rt, report)
    rt.record(Event("RunRecovered", report.as_dict()))
    return report


def _settle(rt: Runtime, task: Task, report: Recovery, merge_logged: bool) -> None:
    holder = task.lease_holder or "unknown"
    landed = rt.repo.find_landed(rt.config.branch, task.id)
    if landed is None:
        give_back(rt, task, holder, "the orchestrator restarted before this task ended")
        report.returned.append(task.id)
        return
    if not merge_logged:
        data = {"sha": landed, "commit": landed, "recovered": True}
        rt.record(Event("CommitMerged", data, task.id, holder))
    handoff = task.handoff or Handoff(summary="merged before a restart; recorded on resume")
    rt.board.complete(task.id, holder, [landed], handoff)
    report.recorded_merges.append(task.id)


def sweep_worktrees(rt: Runtime) -> None:
    """Remove worktrees and branches that a crashed or cancelled agent left, and let git do the
    housekeeping its own commands would have done (only when no agent is running)."""
    report = Recovery()
    _clear_worktrees(rt, report)
    if report.removed_worktrees or report.removed_branches:
        rt.record(Event("WorktreesSwept", report.as_dict()))
    rt.repo.maintain()


def _clear_worktrees(rt: Runtime, report: Recovery) -> None:
    leftovers = rt.state_dir / "worktrees"
    for path in rt.repo.list_worktrees():
        if not path.resolve().is_relative_to(leftovers.resolve()):
            continue  # the person's own worktrees are theirs
        keep_leftover(rt, path)  # what an agent cut short by a crash wrote is kept first
        rt.repo.remove_worktree(path)
        report.removed_worktrees += 1
    if leftovers.exists():
        shutil.rmtree(leftovers, ignore_errors=True)
    for branch in rt.repo.branches_with_prefix(BRANCH_PREFIX):
        rt.repo.delete_branch(branch)
        report.removed_branches += 1
