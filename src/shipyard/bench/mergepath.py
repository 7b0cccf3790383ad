"""The merge path alone: commits made in advance, landed by concurrent workers through the real `Merger`.

This isolates what the shared branch can take (merge-tree, commit-tree, one compare-and-swap per batch,
the checkout sync) from the rest of a worker's git work (worktrees, commits), and compares batching with
one merge per branch update (`max_batch=1`, the design before batching).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from shipyard.bench.audit import Audit
from shipyard.bench.coordination import add_tasks, bench_config
from shipyard.bench.measure import Span, Stopwatch
from shipyard.board.sqlite import SqliteBoard
from shipyard.domain import Task
from shipyard.fleet.merger import Merger
from shipyard.fleet.runtime import HARNESS, STATE_DIR, Runtime
from shipyard.git import GitRepo, init_repo
from shipyard.git.run import git
from shipyard.models.sim import SimWorkload


def make_repo(root: Path) -> GitRepo:
    """A fresh repository on `main`, checked out, as a person's own would be."""
    root.mkdir(parents=True)
    (root / "README.md").write_text("# benchmark target\n", encoding="utf-8")
    repo = init_repo(root, "main", HARNESS, "benchmark target")
    repo.ensure_ignored(f"/{STATE_DIR}/")
    return repo


def prepare_commits(repo: GitRepo, w: SimWorkload) -> list[str]:
    """One commit per task on its own branch from `main`, each adding the task's file (one fast-import)."""
    base = repo.rev_parse("main") or "main"
    stream = []
    for i in range(w.tasks):
        content = f"sim task {i}\n".encode()
        message = f"sim task {i}".encode()
        stream += [
            f"commit refs/heads/bench/{i}",
            f"mark :{i + 1}",
            "committer Bench <bench@shipyard.local> 0 +0000",
            f"data {len(message)}",
            message.decode(),
            f"from {base}",
            f"M 100644 inline {w.own_path(i)}",
            f"data {len(content)}",
            content.decode(),
        ]
    git(repo.root, "fast-import", "--quiet", stdin="\n".join(stream) + "\n")
    out = git(repo.root, "for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/heads/bench/")
    shas = dict(line.split() for line in out.stdout.splitlines())
    return [shas[f"bench/{i}"] for i in range(w.tasks)]


async def merge_fleet(repo: GitRepo, agents: int, w: SimWorkload, max_batch: int) -> tuple[Span, Audit]:
    """Land every prepared commit, `agents` landing at once, each waiting for its merge before the next."""
    shas = prepare_commits(repo, w)
    board = SqliteBoard(repo.root / STATE_DIR / "board.sqlite")
    try:
        ids = add_tasks(board, w)
        tasks = {i: board.get(task_id) for task_id, i in ids.items()}
        rt = Runtime(config=bench_config(agents), repo=repo, board=board, models={})
        merger = Merger(rt, _ignore, max_batch)
        latencies: list[float] = []

        async def worker(k: int) -> None:
            for i in range(k, w.tasks, agents):
                latencies.append(await _land(merger, tasks[i], f"worker-{k + 1}", shas[i]))

        watch = Stopwatch()
        await asyncio.gather(*(worker(k) for k in range(agents)))
        span = watch.stop()
        return span, _audit(repo, rt, shas, latencies)
    finally:
        board.close()


async def _land(merger: Merger, task: Task, agent: str, sha: str) -> float:
    started = time.perf_counter()
    await merger.land(task, agent, sha)
    return time.perf_counter() - started


def _audit(repo: GitRepo, rt: Runtime, shas: list[str], latencies: list[float]) -> Audit:
    events = rt.board.events()
    merged = [e for e in events if e.kind == "CommitMerged"]
    reachable = set(git(repo.root, "rev-list", "refs/heads/main").stdout.split())
    return Audit(
        merged=len(merged),
        failed=0,
        unsettled=len(shas) - len(merged),
        conflicts=sum(1 for e in events if e.kind == "MergeConflicted"),
        retries=sum(int(e.data.get("retries", 0)) for e in merged),
        lost=sum(1 for sha in shas if sha not in reachable),
        latencies_s=tuple(latencies),
    )


def _ignore(_sha: str) -> None:
    """No health check in the benchmarks."""
