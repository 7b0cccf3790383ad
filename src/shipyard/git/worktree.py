"""Worktrees: one private checkout per working agent, created fresh and removed without a trace."""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from shipyard.git.parking import park, refresh, unpark
from shipyard.git.placement import spread_subfolders
from shipyard.git.ref import branch_tip, head_branch
from shipyard.git.run import NO_REFLOG, git, nul_split

# git reads every worktree's admin folder in `worktree add/list/prune` and `branch -D`, and fails on one
# that a concurrent `worktree add` has half written; so worktree bookkeeping runs one at a time.
_guard = threading.Lock()
_locks: dict[Path, threading.RLock] = {}


@dataclass(frozen=True)
class WorktreeEntry:
    """One line of `git worktree list`: where it is and which branch it has checked out."""

    path: Path
    branch: str | None


def worktree_entries(root: Path) -> list[WorktreeEntry]:
    """Every worktree git knows of, the main one first."""
    with _lock_for(root):
        out = git(root, "worktree", "list", "--porcelain", "-z")
    entries: list[WorktreeEntry] = []
    for field in nul_split(out.stdout):
        if field.startswith("worktree "):
            entries.append(WorktreeEntry(Path(field.removeprefix("worktree ")), None))
        elif field.startswith("branch refs/heads/") and entries:
            branch = field.removeprefix("branch refs/heads/")
            entries[-1] = WorktreeEntry(entries[-1].path, branch)
    return entries


def list_worktrees(root: Path) -> list[Path]:
    """The linked worktrees of the repository (the main work tree is not listed)."""
    return [entry.path for entry in worktree_entries(root)[1:]]


def add_worktree(root: Path, path: Path, branch: str, start: str, spot: Path | None = None) -> Path:
    """Create branch `branch` at `start` checked out in a new worktree at `path`, clearing crash leftovers.

    The common case takes one short turn under the bookkeeping lock: the branch is created first, the
    worktree is registered without a checkout, and its files are written outside the lock (reusing
    the checkout parked at `spot`, if any). Whatever gets in the way (a leftover branch, folder or
    registration) sends it down the careful path.
    """
    path = path.resolve()
    _refuse_repository(root, path)
    if not _add_quickly(root, path, branch, start, spot):
        with _lock_for(root):
            _clear_leftovers(root, path, branch)
            spread_subfolders(path.parent)
            git(root, "worktree", "add", "--quiet", "--no-track", "-b", branch, str(path), start)
    return path


def remove_worktree(
    root: Path, path: Path, delete_branch: str | None = None, spot: Path | None = None
) -> None:
    """Force-remove the worktree at `path` and optionally a branch; nothing happens for what is gone.

    The branch goes only if no other worktree has it checked out. With `spot`, the worktree's files
    are parked there for the next worktree to reuse.
    """
    path = path.resolve()
    checked_out = head_branch(path)
    if spot is not None and checked_out is not None:
        park(path, spot)
    with _lock_for(root):
        done = git(root, "worktree", "remove", "--force", "--force", str(path), ok=(0, 128))
    if done.code == 0 and delete_branch is not None and checked_out == delete_branch:
        git(root, "update-ref", "-d", f"refs/heads/{delete_branch}")  # it was checked out only there
    elif done.code != 0 or delete_branch is not None:
        _remove_carefully(root, path, delete_branch)


def _add_quickly(root: Path, path: Path, branch: str, start: str, spot: Path | None) -> bool:
    """The common case of `add_worktree`; False, with nothing left behind, when something is in the way."""
    if path.exists():
        return False
    ref = f"refs/heads/{branch}"
    if git(root, *NO_REFLOG, "update-ref", ref, start, "", ok=(0, 1, 128)).code != 0:
        return False  # the branch exists already (or `start` is not a commit): the careful path says which
    spread_subfolders(path.parent)
    with _lock_for(root):
        added = git(
            root, *NO_REFLOG, "worktree", "add", "--quiet", "--no-checkout", str(path), branch, ok=(0, 128)
        )
    if added.code != 0:
        git(root, "update-ref", "-d", ref)
        return False
    if spot is not None and unpark(spot, path):
        refresh(path)
    else:
        git(path, "read-tree", "--reset", "-u", "HEAD")
    return True


def _remove_carefully(root: Path, path: Path, delete_branch: str | None) -> None:
    """Remove whatever is registered at `path` (pruning what vanished) and delete a branch if it is free."""
    with _lock_for(root):
        git(root, "worktree", "prune")
        if _is_registered(root, path):
            done = git(root, "worktree", "remove", "--force", "--force", str(path), ok=(0, 128))
            if done.code != 0:  # e.g. a worktree holding submodules: git will not remove it, so we do.
                shutil.rmtree(path, ignore_errors=True)
                git(root, "worktree", "prune")
        if delete_branch is not None:
            _delete_branch_if_free(root, delete_branch)


def _refuse_repository(root: Path, path: Path) -> None:
    if root.resolve() == path or path in root.resolve().parents:
        raise ValueError(f"refusing to use {path} as a worktree: it holds the repository itself")


def _clear_leftovers(root: Path, path: Path, branch: str) -> None:
    """Remove what a crashed run may have left at `path` or under `branch`."""
    _remove_carefully(root, path, None)
    if path.exists():
        shutil.rmtree(path)
    _delete_branch_if_free(root, branch)


def _is_registered(root: Path, path: Path) -> bool:
    """Whether git lists a worktree at `path`."""
    return any(entry.path == path for entry in worktree_entries(root))


def _delete_branch_if_free(root: Path, branch: str) -> None:
    """Delete a local branch unless it is missing or checked out in some worktree."""
    if branch_tip(root, branch) is None:
        return
    if any(entry.branch == branch for entry in worktree_entries(root)):
        return
    git(root, "branch", "--quiet", "-D", branch)


def _lock_for(root: Path) -> threading.RLock:
    """The lock for one repository's worktree bookkeeping (re-entrant: operations nest)."""
    with _guard:
        return _locks.setdefault(root.resolve(), threading.RLock())
