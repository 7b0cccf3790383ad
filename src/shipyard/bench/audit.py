"""After a benchmark run on real git: what the event log says happened, checked against the repository.

A merged commit counts as lost when the shared branch does not contain it, when a done task has no
recorded merge, or when a merged task's file or hot-file line is missing from the branch's tip.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from shipyard.domain import Event, TaskStatus
from shipyard.fleet.runtime import Runtime
from shipyard.git.run import git
from shipyard.models.sim import SimWorkload

_INDEX = re.compile(r"^sim task (\d+)$")


@dataclass(frozen=True)
class Audit:
    merged: int
    failed: int
    unsettled: int
    conflicts: int
    retries: int
    lost: int
    latencies_s: tuple[float, ...]


def audit_run(rt: Runtime, w: SimWorkload) -> Audit:
    """Figures of one run from its event log, and the lost commits found in its repository."""
    events = rt.board.events()
    merges = [e for e in events if e.kind == "CommitMerged"]
    conflicted = [e for e in events if e.kind == "MergeConflicted"]
    counts = rt.board.counts()
    return Audit(
        merged=len(merges),
        failed=counts[TaskStatus.FAILED.value],
        unsettled=counts[TaskStatus.OPEN.value] + counts[TaskStatus.CLAIMED.value],
        conflicts=len(conflicted),
        retries=sum(int(e.data.get("retries", 0)) for e in [*merges, *conflicted]),
        lost=_lost(rt, w, merges),
        latencies_s=tuple(_latencies(events, merges)),
    )


def _latencies(events: Iterable[Event], merges: list[Event]) -> list[float]:
    """For each merge: from the worker's last `finish` before it to the commit landing on the branch."""
    finishes: dict[int, list[float]] = {}
    for e in events:
        if e.kind == "ToolCalled" and e.data.get("tool") == "finish" and e.data.get("role") == "worker":
            finishes.setdefault(e.task_id or 0, []).append(e.ts)
    out = []
    for m in merges:
        before = [ts for ts in finishes.get(m.task_id or 0, []) if ts <= m.ts]
        if before:
            out.append(m.ts - max(before))
    return out


def _lost(rt: Runtime, w: SimWorkload, merges: list[Event]) -> int:
    """Merged work the shared branch does not hold: commits, done tasks, files and hot-file lines."""
    root, branch = rt.repo.root, f"refs/heads/{rt.config.branch}"
    reachable = set(git(root, "rev-list", branch).stdout.split())
    lost = {e.task_id for e in merges if not {e.data["sha"], e.data["commit"]} <= reachable}
    merged_ids = {e.task_id for e in merges}
    files = set(git(root, "ls-tree", "-r", "--name-only", "-z", branch).stdout.split("\0"))
    hot_lines = {path: _lines(root, branch, path) for path in files if "/hot-" in path}
    for task in rt.board.tasks(TaskStatus.DONE):
        found = _INDEX.match(task.title)
        if task.id not in merged_ids or found is None:
            lost.add(task.id)
            continue
        i = int(found.group(1))
        hot = w.hot_path(i)
        if w.own_path(i) not in files or (hot is not None and w.line(i) not in hot_lines.get(hot, set())):
            lost.add(task.id)
    return len(lost)


def _lines(root: Path, branch: str, path: str) -> set[str]:
    return set(git(root, "show", f"{branch}:{path}").stdout.splitlines())
