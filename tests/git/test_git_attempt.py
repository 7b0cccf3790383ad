"""Kept attempts in real git: a worktree's whole state on a ref, its index and HEAD untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from git_helpers import ALICE, Tree
from shipyard.errors import UnsafeWorktreeError
from shipyard.git import GitRepo
from shipyard.git.attempt import Snapshot, attempt_ref


def _snap(task: int, n: int, message: str = "attempt\n\nShipyard-Ended: limit\n") -> Snapshot:
    return Snapshot(attempt_ref(task, n), message, ALICE, "main")


def _worktree(repo: GitRepo, name: str = "w") -> Path:
    return repo.add_worktree(repo.root / ".shipyard" / "worktrees" / name, f"shipyard/{name}", "main")


def test_everything_but_ignored_files_is_kept_and_the_worktree_is_untouched(
    repo: GitRepo, tree: Tree
) -> None:
    tree.commit(repo.root, {".gitignore": "*.log\n"}, "ignore logs")
    wt = _worktree(repo)
    committed = tree.commit(wt, {"committed.txt": "c\n"}, "agent commit")
    tree.write(wt, {"c.txt": "changed\n", "new/untracked.txt": "u\n", "noise.log": "ignored\n"})
    tree.git(wt, "add", "c.txt")  # one change staged, the others not
    status_before = tree.git(wt, "status", "--porcelain")

    sha = repo.attempts().keep(wt, _snap(7, 1))

    assert sha is not None and repo.rev_parse(attempt_ref(7, 1)) == sha
    files = tree.git(repo.root, "ls-tree", "-r", "--name-only", sha).splitlines()
    assert {"committed.txt", "c.txt", "new/untracked.txt"} <= set(files) and "noise.log" not in files
    assert tree.git(repo.root, "show", f"{sha}:c.txt") == "changed"
    assert tree.git(repo.root, "rev-parse", f"{sha}^") == committed
    assert tree.git(wt, "rev-parse", "HEAD") == committed
    assert tree.git(wt, "status", "--porcelain") == status_before
    assert tree.git(repo.root, "branch", "--list", "--contains", sha) == ""  # never on a branch


def test_nothing_is_kept_for_an_untouched_worktree_and_a_kept_ref_is_never_overwritten(
    repo: GitRepo, tree: Tree
) -> None:
    wt = _worktree(repo)
    assert repo.attempts().keep(wt, _snap(1, 1)) is None
    assert repo.attempts().kept() == []
    tree.write(wt, {"a.txt": "first\n"})
    first = repo.attempts().keep(wt, _snap(1, 1))
    tree.write(wt, {"a.txt": "second\n"})
    assert repo.attempts().keep(wt, _snap(1, 1)) == first
    assert repo.attempts().keep(repo.root / "gone", _snap(1, 2)) is None


def test_kept_attempts_are_listed_with_trailers_and_changes(repo: GitRepo, tree: Tree) -> None:
    wt = _worktree(repo)
    tree.write(wt, {"a.txt": "1\n2\n", "b.txt": "x\n"})
    repo.attempts().keep(wt, _snap(3, 2, "t\n\nShipyard-Ended: stalled\nShipyard-Reason: quiet\n"))
    tree.commit(repo.root, {"other.txt": "landed meanwhile\n"})  # the shared branch moves on
    (kept,) = repo.attempts().kept()
    assert (kept.task_id, kept.attempt, kept.trailers["Ended"]) == (3, 2, "stalled")
    changes = repo.attempts().changes("main", kept.sha)
    assert changes.files == ("a.txt", "b.txt") and (changes.added, changes.removed) == (3, 0)
    assert repo.attempts().kept(4) == [] and repo.attempts().kept(3) == [kept]
    assert repo.attempts().disk_bytes() > 0
    assert repo.attempts().delete([kept.ref]) == 1 and repo.attempts().kept() == []


def test_a_kept_attempt_continues_rebased_onto_the_new_tip(repo: GitRepo, tree: Tree) -> None:
    wt = _worktree(repo)
    tree.write(wt, {"a.txt": "agent\n", "c.txt": "1\n2\nagent\n"})
    sha = repo.attempts().keep(wt, _snap(5, 1))
    assert sha is not None
    repo.remove_worktree(wt, "shipyard/w")
    tree.commit(repo.root, {"c.txt": "1\n2\nlanded\n", "z.txt": "z\n"})
    again = _worktree(repo, "w2")

    conflicts = repo.attempts().continue_in(again, sha)

    assert conflicts == ("c.txt",)
    assert (again / "a.txt").read_text() == "agent\n" and (again / "z.txt").exists()
    assert "<<<<<<<" in (again / "c.txt").read_text()
    assert tree.git(again, "rev-parse", "HEAD") == tree.git(repo.root, "rev-parse", "main")


def test_salvage_branch_names_are_checked_and_never_clobber(repo: GitRepo, tree: Tree) -> None:
    store = repo.attempts()
    head = tree.git(repo.root, "rev-parse", "HEAD")
    assert not store.valid_branch_name("bad..name") and store.valid_branch_name("salvage/task-1")
    assert store.make_branch("salvage/task-1", head)
    assert not store.make_branch("salvage/task-1", head) and not store.make_branch("main", head)


def test_what_landed_commits_brought_is_read_in_one_go(repo: GitRepo, tree: Tree) -> None:
    first = tree.commit(repo.root, {"a.txt": "1\n2\n"})
    second = tree.commit(repo.root, {"a.txt": "1\n", "b.txt": "b\n"})
    gone = "0" * 40
    changes = repo.attempts().landed_changes([second, first, gone, "not-a-sha"])
    assert set(changes) == {first, second}
    assert (changes[first].files, changes[first].added) == (("a.txt",), 2)
    later = changes[second]
    assert (later.files, later.added, later.removed) == (("a.txt", "b.txt"), 1, 1)


def test_what_a_workers_commit_never_holds_is_not_kept_either(repo: GitRepo, tree: Tree) -> None:
    wt = _worktree(repo)
    tree.write(wt, {"a.txt": "a\n", ".gitmodules": "[submodule]\n", "sub/.shipyard/x": "state\n"})
    sha = repo.attempts().keep(wt, _snap(1, 1))
    assert sha is not None
    assert tree.git(repo.root, "ls-tree", "-r", "--name-only", sha).split() == ["README.md", "a.txt", "c.txt"]
    tree.init(wt / "vendor" / "lib")  # an agent's own repository inside the worktree
    with pytest.raises(UnsafeWorktreeError, match=r"vendor/lib/\.git"):
        repo.attempts().keep(wt, _snap(1, 2))
    assert repo.rev_parse(attempt_ref(1, 2)) is None
