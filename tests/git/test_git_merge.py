"""Mechanical merges onto the shared branch, including many mergers at once."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from shipyard.errors import GitError, RepoError
from shipyard.git import GitRepo, Identity, MergeResult
from shipyard.git import merge as merge_module

if TYPE_CHECKING:
    from git_helpers import Tree

HARNESS = Identity("Shipyard", "shipyard@localhost")
WORKERS = 16


def worker_commit(repo: GitRepo, tmp_path: Path, tree: Tree, name: str, files: dict[str, str]) -> str:
    """A commit on branch `name`, made in its own worktree started from `main`."""
    path = repo.add_worktree(tmp_path / "wt" / name, name, "main")
    return tree.commit(path, files, f"{name} work")


def test_fast_forward(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    old = repo.rev_parse("main")
    sha = worker_commit(repo, tmp_path, tree, "w1", {"a.txt": "a\n"})
    result = repo.merge_onto("main", sha, "land w1", HARNESS, HARNESS)
    assert result == MergeResult(True, sha, old, (), 0, fast_forward=True)
    assert repo.rev_parse("main") == sha


def test_true_merge_of_disjoint_files(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    sha = worker_commit(repo, tmp_path, tree, "w1", {"a.txt": "a\n"})
    tip = tree.commit(repo.root, {"b.txt": "b\n"})
    result = repo.merge_onto("main", sha, "land w1", Identity("w1", "w1@x"), HARNESS)
    assert result.merged and not result.fast_forward and result.old_tip == tip
    assert result.sha == repo.rev_parse("main")
    head = tree.git(repo.root, "log", "-1", "--format=%P|%an|%cn|%s", "main")
    assert head == f"{tip} {sha}|w1|Shipyard|land w1"
    assert tree.git(repo.root, "ls-tree", "--name-only", "main").splitlines() == [
        "README.md",
        "a.txt",
        "b.txt",
        "c.txt",
    ]


def test_conflict_names_files_and_leaves_branch_alone(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    sha = worker_commit(repo, tmp_path, tree, "w1", {"c.txt": "w\n2\n3\n", "ok.txt": "x"})
    tip = tree.commit(repo.root, {"c.txt": "m\n2\n3\n", "README.md": "m\n"})
    result = repo.merge_onto("main", sha, "land w1", HARNESS, HARNESS)
    assert result == MergeResult(False, None, tip, ("c.txt",), 0, fast_forward=False)
    assert repo.rev_parse("main") == tip
    assert repo.is_clean()


def test_merging_again_is_a_no_op(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    sha = worker_commit(repo, tmp_path, tree, "w1", {"a.txt": "a\n"})
    tree.commit(repo.root, {"b.txt": "b\n"})
    first = repo.merge_onto("main", sha, "land w1", HARNESS, HARNESS)
    again = repo.merge_onto("main", sha, "land w1", HARNESS, HARNESS)
    assert again == MergeResult(True, first.sha, first.sha, (), 0, fast_forward=False)
    assert repo.rev_parse("main") == first.sha
    assert repo.contains("main", sha)


def test_missing_branch_or_commit(repo: GitRepo) -> None:
    with pytest.raises(RepoError, match="branch `nope` does not exist"):
        repo.merge_onto("nope", "main", "m", HARNESS, HARNESS)
    with pytest.raises(GitError, match="no commit named"):
        repo.merge_onto("main", "nope", "m", HARNESS, HARNESS)


def test_lost_race_retries_on_the_new_tip(
    repo: GitRepo, tmp_path: Path, tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = worker_commit(repo, tmp_path, tree, "w1", {"a.txt": "a\n"})
    other = worker_commit(repo, tmp_path, tree, "w2", {"b.txt": "b\n"})
    tree.commit(repo.root, {"c2.txt": "forces a true merge\n"})
    real = merge_module._commit_tree
    calls: list[str] = []

    def interleaved(*args: object, **kwargs: object) -> str:
        calls.append("commit-tree")
        if len(calls) == 1:  # another merger lands between our merge-tree and our update-ref
            assert repo.merge_onto("main", other, "land w2", HARNESS, HARNESS).merged
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(merge_module, "_commit_tree", interleaved)
    result = repo.merge_onto("main", mine, "land w1", HARNESS, HARNESS)
    assert result.merged and result.retries == 1
    assert repo.contains("main", mine) and repo.contains("main", other)


def test_concurrent_merges_lose_nothing(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    barrier = threading.Barrier(WORKERS, timeout=30)

    def work(i: int) -> tuple[str, MergeResult]:
        try:
            sha = worker_commit(repo, tmp_path, tree, f"w{i}", {f"file{i}.txt": f"{i}\n"})
        except BaseException:
            barrier.abort()  # let the others fail fast instead of waiting for the timeout
            raise
        barrier.wait()  # all merges start together: the most contention we can make
        return sha, repo.merge_onto("main", sha, f"land w{i}", HARNESS, HARNESS)

    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(work, range(WORKERS)))
    assert all(result.merged for _, result in outcomes)
    assert all(repo.contains("main", sha) for sha, _ in outcomes)
    files = tree.git(repo.root, "ls-tree", "--name-only", "main").splitlines()
    assert {f"file{i}.txt" for i in range(WORKERS)} <= set(files)
    assert_branch_only_moved_forward(repo, tree, "main", moves=WORKERS)
    fsck = tree.git(repo.root, "fsck", "--no-progress", "--no-dangling")
    assert fsck == ""


def assert_branch_only_moved_forward(repo: GitRepo, tree: Tree, branch: str, moves: int) -> None:
    """Every move recorded in the reflog is a descendant of the one before: nothing was rewritten."""
    shas = tree.git(repo.root, "reflog", "--format=%H", f"refs/heads/{branch}").splitlines()
    assert len(shas) == moves + 1
    for newer, older in itertools.pairwise(shas):
        assert tree.git(repo.root, "merge-base", older, newer) == older
