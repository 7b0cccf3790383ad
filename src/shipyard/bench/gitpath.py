"""The `git` scenario: the full worker path with real worktrees, real commits and a real shared branch.

Tasks are written on a real board up front; the real `WorkPhase` hands them to real workers (`work_on`)
whose agent loop plays the `sim` model; their commits land through the real `Merger`. Afterwards the
event log and the repository are audited: every merged commit must be on the shared branch, with its
content. Two more mixes time the merge path alone (see `mergepath`), batched and one merge at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from shipyard.bench.audit import Audit, audit_run
from shipyard.bench.coordination import BenchError, add_tasks, bench_config
from shipyard.bench.measure import Span, Stopwatch, count, filesystem, percentile, quiet, rate, scratch_folder
from shipyard.bench.mergepath import make_repo, merge_fleet
from shipyard.board.sqlite import SqliteBoard
from shipyard.domain import Role
from shipyard.fleet.merger import MAX_BATCH, Merger
from shipyard.fleet.runtime import STATE_DIR, Runtime
from shipyard.fleet.scheduler import WorkPhase
from shipyard.models.sim import SimModel, SimWorkload

# mix -> share of tasks that also append to a hot file (None: the merge path alone)
MIXES: dict[str, float | None] = {"disjoint": 0.0, "hot": 0.3, "merge_batched": None, "merge_serial": None}
FULL_PATH_MIXES = ("disjoint", "hot")


@dataclass(frozen=True)
class GitRow:
    agents: int
    mix: str
    tasks: int
    think_ms: float
    merged_per_s: float
    p50_merge_s: float
    p95_merge_s: float
    conflicts_per_task: float
    retries_per_task: float
    lost_commits: int
    failed: int
    disk: str  # the file system the repository and its worktrees were on


async def git_fleet(root: Path, agents: int, w: SimWorkload) -> tuple[Span, Audit]:
    """Run `w.tasks` tasks through worktrees, commits and merges with `agents` workers; audit the result."""
    repo = make_repo(root / "repo")
    board = SqliteBoard(repo.root / STATE_DIR / "board.sqlite")
    try:
        add_tasks(board, w)
        model = SimModel(w)
        rt = Runtime(config=bench_config(agents), repo=repo, board=board, models=dict.fromkeys(Role, model))
        merger = Merger(rt, _ignore)
        watch = Stopwatch()
        await WorkPhase(rt, merger, 1, _nothing, plan_root=False).run()
        span = watch.stop()
        return span, audit_run(rt, w)
    finally:
        board.close()


def _ignore(_sha: str) -> None:
    """No health check in the benchmarks."""


def _nothing() -> None:
    """No budget in the benchmarks."""


def git_row(agents: int, mix: str, w: SimWorkload, span: Span, a: Audit, disk: str) -> GitRow:
    if a.unsettled:
        raise BenchError(f"git with {agents} agents ({mix}): {a.unsettled} tasks neither merged nor failed")
    return GitRow(
        agents=agents,
        mix=mix,
        tasks=w.tasks,
        think_ms=w.think_ms if mix in FULL_PATH_MIXES else 0.0,
        merged_per_s=round(rate(a.merged, span.wall_s), 2),
        p50_merge_s=round(percentile(a.latencies_s, 50), 4),
        p95_merge_s=round(percentile(a.latencies_s, 95), 4),
        conflicts_per_task=round(a.conflicts / w.tasks, 3),
        retries_per_task=round(a.retries / max(1, a.merged), 3),
        lost_commits=a.lost,
        failed=a.failed,
        disk=disk,
    )


async def _one(root: Path, agents: int, mix: str, w: SimWorkload) -> tuple[Span, Audit]:
    if mix in FULL_PATH_MIXES:
        return await git_fleet(root, agents, w)
    batch = MAX_BATCH if mix == "merge_batched" else 1
    return await merge_fleet(make_repo(root / "repo"), agents, w, batch)


def run_git(
    sizes: Sequence[int],
    mixes: Sequence[str],
    w: SimWorkload,
    per_agent: int,
    scratch: Path,
    on_row: Callable[[str], None] = quiet,
) -> list[GitRow]:
    """One row per file mix and fleet size; each run's repository in a new folder under `scratch`.
    Each row is told to `on_row` as soon as it is measured."""
    rows = []
    for mix in mixes:
        for agents in sizes:
            tasks = max(per_agent * agents, 2 * per_agent)
            if mix not in FULL_PATH_MIXES:  # the same commits at every size: history depth costs merges
                tasks = per_agent * max(sizes)
            load = replace(w, tasks=tasks, hot_share=MIXES[mix] or 0.0)
            folder = scratch_folder(scratch, f"git-{mix}-{agents}-")
            span, found = asyncio.run(_one(folder, agents, mix, load))
            row = git_row(agents, mix, load, span, found, filesystem(folder))
            rows.append(row)
            rate_text = f"{row.merged_per_s:g} merged/s, p50 {row.p50_merge_s:g} s"
            on_row(f"git {mix}, {count(agents, 'worker')}: {rate_text}")
    return rows
