"""Parked checkouts: the files of a removed worktree, kept so the next worktree writes only what changed.

Writing a full checkout costs one file creation per tracked file, and creating files is the dearest
thing a worktree does (about 0.5 ms each on this project's reference disk). A worktree is still removed
when its task ends (registration, admin folder, branch), but its folder is first moved to a parking
spot: one per agent, so the spots stay as few as the agents. The next worktree of that agent moves the
folder back in, rebuilds its index from the new tip (no index is trusted from the last agent), lets git
rewrite only the files whose content differs, and deletes every untracked or ignored file: it starts
exactly as a fresh checkout would.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from shipyard.errors import GitError
from shipyard.git.hazard import nested_repositories
from shipyard.git.run import NO_REFLOG, git

_POINTER = ".git"


def park(worktree: Path, spot: Path) -> bool:
    """Move a worktree's folder to `spot` whole; git then removes its registration (the folder may be gone).

    False when that cannot be done: the worktree is then as it was.
    """
    if not (worktree / _POINTER).is_file():
        return False
    try:
        remove_entry(spot)
        spot.parent.mkdir(parents=True, exist_ok=True)
        os.rename(worktree, spot)
    except OSError:
        return False
    return True


def unpark(spot: Path, worktree: Path) -> bool:
    """Move the files parked at `spot` into a new worktree that has nothing but its `.git` pointer yet.

    False when there is nothing to reuse (the worktree is then as it was: empty).
    """
    if not spot.is_dir() or sorted(os.listdir(worktree)) != [_POINTER]:
        return False
    try:
        remove_entry(spot / _POINTER)
        os.rename(worktree / _POINTER, spot / _POINTER)
        worktree.rmdir()
        os.rename(spot, worktree)
    except OSError:
        _restore(spot, worktree)
        return False
    return True


def refresh(worktree: Path) -> None:
    """Make a reused folder match the worktree's HEAD exactly: rewrite what differs, drop what is extra.

    Should git fail at it (say, on a folder an agent made read-only), or should the folder hold a nested
    repository (whose config git would obey on the host), the folder is emptied and checked out afresh.
    """
    if not nested_repositories(worktree):
        try:
            # A fresh index from HEAD (nothing of the last agent's is trusted), refreshed: the files that
            # match get their stat recorded, so only the others are written again. With a pathspec,
            # `reset` neither moves HEAD nor writes ORIG_HEAD, and plumbing writes no lock file: each
            # lock file is a file made and deleted, and such churn is what bounds a large fleet.
            git(worktree, "reset", "--no-quiet", "--", ".", ok=(0, 1))
            git(worktree, "checkout-index", "--all", "--force", "--quiet")
            git(worktree, "clean", "-ffdxq")
            return
        except GitError:
            pass
    for entry in worktree.iterdir():
        if entry.name != _POINTER:
            remove_entry(entry)
    git(worktree, "read-tree", "--reset", "-u", "HEAD")


def reset_to(worktree: Path, start: str) -> None:
    """Make a worktree whose index is Shipyard's own (never the agent's to write) match commit `start`
    exactly: its branch moved there, what differs rewritten, every untracked or ignored file deleted.
    `GitError` when git cannot (the caller then makes the worktree afresh)."""
    git(worktree, *NO_REFLOG, "reset", "--hard", "--quiet", start)
    git(worktree, "clean", "-ffdxq")


def remove_entry(path: Path) -> None:
    """Delete a file or a whole folder, first making writable any folder an agent locked."""
    if not path.is_dir() or path.is_symlink():
        path.unlink(missing_ok=True)
        return
    try:
        shutil.rmtree(path)
    except OSError:
        _unlock(path)
        shutil.rmtree(path)


def _unlock(folder: Path) -> None:
    os.chmod(folder, 0o700)
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            _unlock(Path(entry.path))


def _restore(spot: Path, worktree: Path) -> None:
    """After a failed unpark: the worktree gets its pointer back, the parked files are dropped."""
    if not worktree.exists():
        worktree.mkdir()
    if not (worktree / _POINTER).exists() and (spot / _POINTER).exists():
        os.rename(spot / _POINTER, worktree / _POINTER)
    shutil.rmtree(spot, ignore_errors=True)
