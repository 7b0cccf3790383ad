"""Keeping the person's checkout of the shared branch in step with merges that land on it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.git import GitRepo, Identity

if TYPE_CHECKING:
    from git_helpers import Tree

HARNESS = Identity("Shipyard", "shipyard@localhost")


def land(repo: GitRepo, tmp_path: Path, tree: Tree, name: str, files: dict[str, str]) -> tuple[str, str]:
    """Commit `files` in a fresh worktree, merge it onto `main`; the branch's old and new tips."""
    path = repo.add_worktree(tmp_path / "wt" / name, name, "main")
    sha = tree.commit(path, files, f"{name} work")
    result = repo.merge_onto("main", sha, f"land {name}", HARNESS, HARNESS)
    assert result.merged and result.sha and result.old_tip
    return result.old_tip, result.sha


def test_sync_updates_a_clean_checkout(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    old, new = land(repo, tmp_path, tree, "w1", {"a.txt": "a\n", "c.txt": "changed\n"})
    assert not (repo.root / "a.txt").exists()
    assert repo.sync_checkout("main", old, new)
    assert (repo.root / "a.txt").read_text() == "a\n"
    assert (repo.root / "c.txt").read_text() == "changed\n"
    assert repo.is_clean()


def test_sync_keeps_unrelated_local_edits(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    tree.write(repo.root, {"README.md": "my edit\n"})
    old, new = land(repo, tmp_path, tree, "w1", {"a.txt": "a\n"})
    assert repo.sync_checkout("main", old, new)
    assert (repo.root / "a.txt").exists()
    assert (repo.root / "README.md").read_text() == "my edit\n"
    assert tree.git(repo.root, "status", "--porcelain") == "M README.md"


def test_sync_refuses_to_clobber_conflicting_edits(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    tree.write(repo.root, {"c.txt": "my edit\n"})
    old, new = land(repo, tmp_path, tree, "w1", {"c.txt": "theirs\n", "a.txt": "a\n"})
    assert not repo.sync_checkout("main", old, new)
    assert (repo.root / "c.txt").read_text() == "my edit\n"
    assert not (repo.root / "a.txt").exists()
    assert repo.rev_parse("main") == new


def test_sync_refuses_to_overwrite_an_untracked_file(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    tree.write(repo.root, {"a.txt": "mine, untracked\n"})
    old, new = land(repo, tmp_path, tree, "w1", {"a.txt": "theirs\n"})
    assert not repo.sync_checkout("main", old, new)
    assert (repo.root / "a.txt").read_text() == "mine, untracked\n"


def test_sync_skips_a_checkout_on_another_branch(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    tree.git(repo.root, "checkout", "--quiet", "-b", "mine")
    old, new = land(repo, tmp_path, tree, "w1", {"a.txt": "a\n"})
    assert not repo.sync_checkout("main", old, new)
    assert not (repo.root / "a.txt").exists()


def test_syncs_arriving_out_of_order_still_apply_everything(
    repo: GitRepo, tmp_path: Path, tree: Tree
) -> None:
    first = land(repo, tmp_path, tree, "w1", {"c.txt": "one\n"})
    land(repo, tmp_path, tree, "w2", {"b.txt": "b\n"})
    third = land(repo, tmp_path, tree, "w3", {"c.txt": "three\n"})
    assert repo.sync_checkout("main", *third)  # the checkout is still at the start, two moves behind
    assert repo.sync_checkout("main", *first)
    assert (repo.root / "c.txt").read_text() == "three\n"
    assert (repo.root / "b.txt").exists()
    assert repo.is_clean()
