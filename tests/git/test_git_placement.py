"""Worktree placement: the folders holding worktrees spread their subfolders over the disk (ext2/3/4)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from shipyard.bench.measure import filesystem
from shipyard.git import GitRepo
from shipyard.git.placement import TOP_OF_HIERARCHY, folder_flags, spread_subfolders


def _needs_ext(path: Path) -> None:
    if filesystem(path) not in ("ext2", "ext3", "ext4"):
        pytest.skip(f"{path} is on {filesystem(path)}, which has no Orlov placement flag")


def _marked(folder: Path) -> bool:
    return bool((folder_flags(folder) or 0) & TOP_OF_HIERARCHY)


def test_a_folder_is_made_and_marked_once_and_again_when_made_anew(tmp_path: Path) -> None:
    _needs_ext(tmp_path)
    folder = tmp_path / "a" / "worktrees"
    assert not _marked(tmp_path)
    assert spread_subfolders(folder) and _marked(folder)
    assert spread_subfolders(folder)  # the second time: nothing to do
    shutil.rmtree(folder)
    folder.mkdir()
    assert not _marked(folder)
    assert spread_subfolders(folder) and _marked(folder)  # a new folder at the same path is marked too
    assert not _marked(tmp_path / "a")


def test_adding_a_worktree_marks_the_folder_that_holds_it(repo: GitRepo, tmp_path: Path) -> None:
    _needs_ext(tmp_path)
    path = repo.add_worktree(tmp_path / "worktrees" / "w1", "shipyard/w1", "main")
    assert _marked(path.parent)
    assert not _marked(path)


def test_a_file_system_without_the_flag_is_left_alone() -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or filesystem(shm) != "tmpfs":
        pytest.skip("no tmpfs at /dev/shm")
    with tempfile.TemporaryDirectory(dir=shm) as scratch:
        folder = Path(scratch) / "worktrees"
        assert spread_subfolders(folder) is False
        assert folder.is_dir()
