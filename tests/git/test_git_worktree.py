"""Worktrees: creation, removal, idempotence and clearing what a crash left behind."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from shipyard.errors import GitError
from shipyard.git import GitRepo

if TYPE_CHECKING:
    from git_helpers import Tree


def test_add_creates_branch_and_checkout(repo: GitRepo, tmp_path: Path) -> None:
    path = repo.add_worktree(tmp_path / "wt" / "w1", "shipyard/w1", "main")
    assert path == (tmp_path / "wt" / "w1").resolve()
    assert (path / "README.md").read_text() == "hello\n"
    assert repo.rev_parse("shipyard/w1") == repo.rev_parse("main")
    assert repo.list_worktrees() == [path]
    assert repo.current_branch() == "main"


def test_remove_deletes_worktree_and_branch_and_is_idempotent(repo: GitRepo, tmp_path: Path) -> None:
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    (path / "dirty.txt").write_text("uncommitted")
    repo.remove_worktree(path, delete_branch="shipyard/w1")
    assert not path.exists()
    assert not repo.branch_exists("shipyard/w1")
    assert repo.list_worktrees() == []
    repo.remove_worktree(path, delete_branch="shipyard/w1")


@pytest.mark.parametrize("locked", [False, True])
def test_remove_after_the_folder_vanished(repo: GitRepo, tmp_path: Path, tree: Tree, locked: bool) -> None:
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    if locked:
        tree.git(repo.root, "worktree", "lock", str(path))
    shutil.rmtree(path)
    repo.remove_worktree(path)
    assert repo.list_worktrees() == []
    assert repo.branch_exists("shipyard/w1")


def test_remove_a_locked_worktree(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    tree.git(repo.root, "worktree", "lock", str(path))
    repo.remove_worktree(path, delete_branch="shipyard/w1")
    assert not path.exists()
    assert repo.list_worktrees() == []


def test_add_over_a_registered_leftover(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    old = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    tree.commit(old, {"stale.txt": "from a crashed run"})
    new_start = tree.commit(repo.root, {"later.txt": "x"})
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    assert repo.rev_parse("shipyard/w1") == new_start
    assert not (path / "stale.txt").exists()
    assert repo.list_worktrees() == [path]


def test_add_after_folder_deleted_but_branch_and_registration_left(repo: GitRepo, tmp_path: Path) -> None:
    old = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    shutil.rmtree(old)
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    assert (path / "README.md").exists()
    assert repo.list_worktrees() == [path]


def test_add_over_a_plain_leftover_folder(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    tree.write(tmp_path / "w1", {"half/written.txt": "x"})
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    assert not (path / "half").exists()


def test_add_keeps_a_branch_checked_out_elsewhere(repo: GitRepo, tmp_path: Path) -> None:
    repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    with pytest.raises(GitError, match="already exists"):
        repo.add_worktree(tmp_path / "w2", "shipyard/w1", "main")
    assert len(repo.list_worktrees()) == 1


def test_add_refuses_the_repository_itself(repo: GitRepo) -> None:
    with pytest.raises(ValueError, match="holds the repository"):
        repo.add_worktree(repo.root, "x", "main")
    with pytest.raises(ValueError, match="holds the repository"):
        repo.add_worktree(repo.root.parent, "x", "main")
    assert (repo.root / "README.md").exists()


def test_changed_files_in_a_worktree(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    assert repo.changed_files(path) == []
    tree.write(path, {"README.md": "edited\n", "new dir/ü.txt": "x"})
    (path / "c.txt").unlink()
    assert repo.changed_files(path) == ["README.md", "c.txt", "new dir/ü.txt"]
