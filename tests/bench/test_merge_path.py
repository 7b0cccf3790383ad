"""The merge path: several commits per compare-and-swap, conflicts left out, races retried, nothing lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shipyard.bench.coordination import add_tasks, bench_config
from shipyard.bench.mergepath import make_repo, prepare_commits
from shipyard.board.sqlite import SqliteBoard
from shipyard.errors import GitError
from shipyard.fleet.merger import Merger
from shipyard.fleet.runtime import STATE_DIR, Runtime
from shipyard.git import GitRepo, Identity
from shipyard.git import merge as merge_module
from shipyard.git.merge import MergeRequest
from shipyard.git.run import git
from shipyard.models.sim import SimWorkload

W = SimWorkload(tasks=6)
ME = Identity("w", "w@example.com")


def requests(shas: list[str]) -> list[MergeRequest]:
    return [
        MergeRequest("main", sha, f"land {i}\n\nShipyard-Task: #{i}\n", ME, ME) for i, sha in enumerate(shas)
    ]


def reflog(repo: GitRepo) -> list[str]:
    return git(repo.root, "reflog", "--format=%H", "refs/heads/main").stdout.split()


def test_a_batch_moves_the_branch_once_and_keeps_a_merge_commit_each(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    shas = prepare_commits(repo, W)
    results = repo.merge_batch(requests(shas))
    assert [r.merged for r in results] == [True] * 6
    assert results[0].fast_forward and not any(r.fast_forward for r in results[1:])
    assert len(reflog(repo)) == 2, "one update of the branch for the whole batch"
    tip = repo.rev_parse("main")
    assert tip == results[-1].sha
    assert all(repo.contains("main", s) for s in shas)
    assert all(results[i].old_tip == results[i - 1].sha for i in range(1, 6))
    logged = git(repo.root, "log", "--format=%s", "--first-parent", "main").stdout.split("\n")
    assert logged[:5] == ["land 5", "land 4", "land 3", "land 2", "land 1"]


def test_a_conflicting_commit_is_reported_and_the_rest_land(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    shas = prepare_commits(repo, W)
    other = _commit_on(repo, "rival", W.own_path(1), "someone else's version\n")
    results = repo.merge_batch(requests([shas[0], other, shas[1], shas[2]]))
    assert [r.merged for r in results] == [True, True, False, True]
    assert results[2].conflicts == (W.own_path(1),) and results[2].sha is None
    assert not repo.contains("main", shas[1])
    assert all(repo.contains("main", s) for s in (shas[0], other, shas[2]))


def test_a_lost_race_redoes_the_whole_batch_on_the_new_tip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "repo")
    shas = prepare_commits(repo, W)
    real = merge_module._swap
    calls: list[int] = []

    def interleaved(*args: object) -> str | None:
        calls.append(1)
        if len(calls) == 1:  # another merger lands between our merge-tree and our update-ref
            assert repo.merge_onto("main", shas[5], "land 5", ME, ME).merged
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(merge_module, "_swap", interleaved)
    results = repo.merge_batch(requests(shas[:5]))
    assert all(r.merged and r.retries == 1 for r in results)
    assert all(repo.contains("main", s) for s in shas)
    assert len(reflog(repo)) == 3


def test_the_merger_batches_waiting_commits_and_answers_each_worker(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    w = SimWorkload(tasks=12)
    shas = prepare_commits(repo, w)
    board = SqliteBoard(repo.root / STATE_DIR / "board.sqlite")
    try:
        ids = add_tasks(board, w)
        rt = Runtime(config=bench_config(4), repo=repo, board=board, models={})
        landed: list[str] = []
        merger = Merger(rt, landed.append)

        async def land_all() -> list[bool]:
            jobs = [merger.land(board.get(t), f"worker-{i}", shas[i]) for t, i in ids.items()]
            return [r.merged for r in await asyncio.gather(*jobs)]

        assert asyncio.run(land_all()) == [True] * 12
        merges = [e for e in board.events() if e.kind == "CommitMerged"]
        assert len(merges) == 12 and max(e.data["batch"] for e in merges) > 1
        assert landed[-1] == repo.rev_parse("main") and len(landed) < 12
        assert all(repo.contains("main", s) for s in shas)
        assert git(repo.root, "status", "--porcelain").stdout == "", "the checkout follows main"
    finally:
        board.close()


def test_a_failed_batch_fails_every_worker_in_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo")
    shas = prepare_commits(repo, W)
    board = SqliteBoard(repo.root / STATE_DIR / "board.sqlite")
    try:
        ids = add_tasks(board, W)
        rt = Runtime(config=bench_config(2), repo=repo, board=board, models={})

        def broken(_requests: object) -> None:
            raise GitError(["merge-tree"], 128, "disk on fire")

        monkeypatch.setattr(GitRepo, "merge_batch", lambda self, reqs, gate=None: broken(reqs))
        merger = Merger(rt, lambda _sha: None)

        async def land_all() -> list[BaseException | object]:
            jobs = [merger.land(board.get(t), "worker-1", shas[i]) for t, i in ids.items()]
            return await asyncio.gather(*jobs, return_exceptions=True)

        outcomes = asyncio.run(land_all())
        assert all(isinstance(o, GitError) for o in outcomes)
    finally:
        board.close()


def _commit_on(repo: GitRepo, branch: str, path: str, content: str) -> str:
    """A commit on a new branch from `main` that writes `content` to `path` (through a worktree)."""
    tree = repo.add_worktree(repo.root / STATE_DIR / branch, branch, "main")
    (tree / path).parent.mkdir(parents=True, exist_ok=True)
    (tree / path).write_text(content, encoding="utf-8")
    sha = repo.commit_all(tree, f"{branch} work", ME, ME)
    assert sha is not None
    return sha


def test_a_conflicted_file_is_held_for_its_task_while_other_files_land(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    w = SimWorkload(tasks=3)
    board = SqliteBoard(repo.root / STATE_DIR / "board.sqlite")
    try:
        first, second, third = (board.get(t) for t in add_tasks(board, w))
        rt = Runtime(config=bench_config(3), repo=repo, board=board, models={})
        merger = Merger(rt, lambda _sha: None)
        mine = _commit_on(repo, "mine", "hot.txt", "mine\n")
        theirs = _commit_on(repo, "theirs", "hot.txt", "theirs\n")
        later = _commit_on(repo, "later", "hot.txt", "later\n")
        elsewhere = _commit_on(repo, "elsewhere", "cold.txt", "cold\n")

        async def scenario() -> None:
            assert (await merger.land(second, "worker-2", theirs)).merged
            assert (await merger.land(first, "worker-1", mine)).conflicts == ("hot.txt",)
            waiting = asyncio.ensure_future(merger.land(third, "worker-3", later))
            assert (await merger.land(third, "worker-3", elsewhere)).merged  # other files land meanwhile
            await asyncio.sleep(0.05)
            assert not waiting.done(), "hot.txt is held for the first task's resolution"
            merger.release(first.id)  # the first task ended: the file passes on
            assert (await asyncio.wait_for(waiting, 10)).conflicts == ("hot.txt",)

        asyncio.run(scenario())
        held = [e for e in board.events() if e.kind == "MergeHeld"]
        assert [(e.task_id, e.data["holder"], e.data["commit"]) for e in held] == [
            (third.id, first.id, later)
        ]
    finally:
        board.close()


def test_a_hold_runs_out_if_its_task_never_comes_back(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    board = SqliteBoard(repo.root / STATE_DIR / "board.sqlite")
    try:
        first, second = (board.get(t) for t in add_tasks(board, SimWorkload(tasks=2)))
        config = bench_config(2)
        config = config.model_copy(update={"fleet": config.fleet.model_copy(update={"conflict_hold_s": 0.3})})
        merger = Merger(Runtime(config=config, repo=repo, board=board, models={}), lambda _sha: None)
        shas = [_commit_on(repo, name, "hot.txt", f"{name}\n") for name in ("theirs", "mine", "later")]

        async def scenario() -> None:
            assert (await merger.land(second, "worker-2", shas[0])).merged
            assert not (await merger.land(first, "worker-1", shas[1])).merged  # first holds hot.txt
            result = await asyncio.wait_for(merger.land(second, "worker-2", shas[2]), 10)
            assert result.conflicts == ("hot.txt",)  # it waited 0.3 s for nothing, then went through

        asyncio.run(scenario())
    finally:
        board.close()


def test_a_commit_whose_files_git_cannot_name_is_not_held_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "repo")
    board = SqliteBoard(repo.root / STATE_DIR / "board.sqlite")
    try:
        first, second = (board.get(t) for t in add_tasks(board, SimWorkload(tasks=2)))
        merger = Merger(Runtime(config=bench_config(2), repo=repo, board=board, models={}), lambda _sha: None)
        shas = [_commit_on(repo, name, "hot.txt", f"{name}\n") for name in ("theirs", "mine")]
        other = _commit_on(repo, "other", "cold.txt", "cold\n")

        def unknown(*_args: object) -> tuple[str, ...]:
            raise GitError(["diff"], 128, "no merge base")

        async def scenario() -> None:
            assert (await merger.land(second, "worker-2", shas[0])).merged
            assert not (await merger.land(first, "worker-1", shas[1])).merged  # first holds hot.txt
            monkeypatch.setattr(GitRepo, "changed_paths", unknown)
            assert (await asyncio.wait_for(merger.land(second, "worker-2", other), 10)).merged

        asyncio.run(scenario())
    finally:
        board.close()
