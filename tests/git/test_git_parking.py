"""Parked checkouts: a removed worktree's files reused by the next one, which must start as a fresh one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from cli_helpers import snapshot
from shipyard.errors import GitError
from shipyard.git import GitRepo, parking
from shipyard.git.run import GitOutput, git

if TYPE_CHECKING:
    from git_helpers import Tree


def _files(root: Path) -> dict[str, bytes]:
    """Every file under `root` but the `.git` pointer (which names each worktree's own admin folder)."""
    return {name: data for name, data in snapshot(root).items() if name != ".git"}


def _used_once(repo: GitRepo, tmp_path: Path, tree: Tree, spot: Path) -> None:
    """A worktree that an agent left messy (edits, new files, ignored files), removed with parking."""
    tree.commit(repo.root, {".gitignore": "*.log\n", "keep/same.txt": "same\n"}, "ignore logs")
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main", spot)
    tree.write(path, {"README.md": "edited by the agent\n", "new.txt": "untracked\n", "out.log": "ignored\n"})
    (path / "c.txt").unlink()
    repo.remove_worktree(path, "shipyard/w1", spot)


def test_removing_parks_the_files_and_removes_the_worktree(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    spot = tmp_path / "parked" / "worker-1"
    _used_once(repo, tmp_path, tree, spot)
    assert not (tmp_path / "w1").exists()
    assert repo.list_worktrees() == []
    assert not repo.branch_exists("shipyard/w1")
    assert git(spot, "rev-parse", "--git-dir", ok=(0, 128)).code == 128  # its pointer leads nowhere now
    assert (spot / "new.txt").read_text() == "untracked\n"


def test_a_reused_checkout_is_exactly_a_fresh_one(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    spot = tmp_path / "parked" / "worker-1"
    _used_once(repo, tmp_path, tree, spot)
    tree.commit(repo.root, {"c.txt": "changed on main\n", "later/added.txt": "x\n"}, "main moves on")
    reused = repo.add_worktree(tmp_path / "w2", "shipyard/w2", "main", spot)
    fresh = repo.add_worktree(tmp_path / "w3", "shipyard/w3", "main")
    assert _files(reused) == _files(fresh)
    assert "new.txt" not in _files(reused) and "out.log" not in _files(reused)
    assert repo.changed_files(reused) == []
    assert repo.rev_parse("shipyard/w2") == repo.rev_parse("main")
    assert repo.current_branch() == "main"
    assert not spot.exists()


def test_reuse_rewrites_only_what_changed(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    spot = tmp_path / "parked" / "worker-1"
    _used_once(repo, tmp_path, tree, spot)
    before = (spot / "keep" / "same.txt").stat().st_ino
    tree.commit(repo.root, {"c.txt": "changed on main\n"}, "main moves on")
    reused = repo.add_worktree(tmp_path / "w2", "shipyard/w2", "main", spot)
    assert (reused / "keep" / "same.txt").stat().st_ino == before
    assert (reused / "c.txt").read_text() == "changed on main\n"


def test_a_file_tampered_with_behind_the_index_is_restored(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    spot = tmp_path / "parked" / "worker-1"
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main", spot)
    target = path / "README.md"
    stat = target.stat()
    target.write_text("HELLO\n")  # same size, and the old times put back: only the content tells
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    repo.remove_worktree(path, "shipyard/w1", spot)
    reused = repo.add_worktree(tmp_path / "w2", "shipyard/w2", "main", spot)
    assert (reused / "README.md").read_text() == "hello\n"


def test_a_spot_that_cannot_be_made_still_removes_the_worktree(repo: GitRepo, tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where the parking folder would go")
    spot = tmp_path / "blocked" / "worker-1"
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main", spot)
    repo.remove_worktree(path, "shipyard/w1", spot)
    assert not path.exists()
    assert repo.list_worktrees() == []
    assert not repo.branch_exists("shipyard/w1")
    again = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main", spot)
    assert (again / "README.md").read_text() == "hello\n"


def test_a_spot_with_a_planted_git_folder_is_still_reused_safely(
    repo: GitRepo, tmp_path: Path, tree: Tree
) -> None:
    spot = tmp_path / "parked" / "worker-1"
    _used_once(repo, tmp_path, tree, spot)
    (spot / ".git").unlink()  # the parked pointer, replaced by a folder that would lead git elsewhere
    tree.write(spot, {".git/HEAD": "ref: refs/heads/elsewhere\n"})
    reused = repo.add_worktree(tmp_path / "w2", "shipyard/w2", "main", spot)
    assert (reused / ".git").is_file()
    assert repo.current_branch() == "main"
    assert repo.changed_files(reused) == []
    assert [p.name for p in repo.list_worktrees()] == ["w2"]


def test_when_git_cannot_bring_a_reused_folder_in_line_it_is_checked_out_afresh(
    repo: GitRepo, tmp_path: Path, tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    spot = tmp_path / "parked" / "worker-1"
    _used_once(repo, tmp_path, tree, spot)
    locked = spot / "locked"
    tree.write(locked, {"inside.txt": "x"})
    locked.chmod(0o500)

    def failing_clean(cwd: Path, *args: str, **kwargs: Any) -> GitOutput:
        if args[0] == "clean":
            raise GitError(["clean"], 1, "warning: failed to remove locked/inside.txt")
        return git(cwd, *args, **kwargs)

    monkeypatch.setattr(parking, "git", failing_clean)
    reused = repo.add_worktree(tmp_path / "w2", "shipyard/w2", "main", spot)
    fresh = repo.add_worktree(tmp_path / "w3", "shipyard/w3", "main")
    assert _files(reused) == _files(fresh)
    assert repo.changed_files(reused) == []


def test_a_reused_checkout_undoes_type_swaps_and_follows_them_on_main(
    repo: GitRepo, tmp_path: Path, tree: Tree
) -> None:
    spot = tmp_path / "parked" / "worker-1"
    tree.commit(repo.root, {"dir/inner.txt": "inner\n", "swap/file.txt": "f\n"}, "a folder and a file")
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main", spot)
    (path / "c.txt").unlink()
    (path / "c.txt").mkdir()  # a tracked file turned into a folder by the agent
    tree.write(path, {"c.txt/junk.txt": "x\n"})
    shutil.rmtree(path / "dir")
    (path / "dir").write_text("a file where a folder was\n")
    (path / "README.md").unlink()
    (path / "README.md").symlink_to("/etc/hostname")  # and a tracked file swapped for a symlink
    repo.remove_worktree(path, "shipyard/w1", spot)
    tree.git(repo.root, "rm", "-rq", "swap")
    tree.commit(repo.root, {"swap": "now a file\n"}, "main turns a folder into a file")
    reused = repo.add_worktree(tmp_path / "w2", "shipyard/w2", "main", spot)
    fresh = repo.add_worktree(tmp_path / "w3", "shipyard/w3", "main")
    assert _files(reused) == _files(fresh)
    assert not (reused / "README.md").is_symlink() and (reused / "swap").is_file()
    assert repo.changed_files(reused) == []
