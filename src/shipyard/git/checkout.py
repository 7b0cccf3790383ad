"""Keep the person's own checkout of the shared branch in step when merges move the branch under it."""

from __future__ import annotations

import threading
from pathlib import Path

from shipyard.errors import GitError
from shipyard.git.hazard import STATE_DIR
from shipyard.git.ref import current_branch
from shipyard.git.run import git

HISTORY_DEPTH = 200

_guard = threading.Lock()
_locks: dict[Path, threading.Lock] = {}


def sync_checkout(root: Path, branch: str, old: str, new: str) -> bool:
    """Bring the checkout at `root` up to the branch tip if it has `branch` checked out.

    True when the checkout now matches the tip; False when `branch` is not checked out there, git
    refused because local changes would be overwritten, or the tip holds an entry where Shipyard keeps
    its state (git would delete the ignored state folder for it): nothing is touched then.
    """
    with _lock_for(root):
        if current_branch(root) != branch:
            return False
        found = _tip(root, f"refs/heads/{branch}") or _tip(root, new)
        if found is None:
            raise GitError(["cat-file", new], 128, f"{new} is not a commit")
        tip, tip_tree = found
        git(root, "update-index", "-q", "--refresh", ok=(0, 1))
        index_tree = git(root, "write-tree", ok=(0, 1, 128)).stdout.strip()
        if index_tree == tip_tree:
            return True
        if _holds_state(root, tip):  # git would delete the ignored state folder to put that entry there
            return False
        base = _commit_with_tree(root, tip, index_tree) or old
        return git(root, "read-tree", "-m", "-u", base, tip, ok=(0, 1, 128)).code == 0


def _tip(root: Path, name: str) -> tuple[str, str] | None:
    """The commit `name` names and its tree (one process for both); None when there is no such commit."""
    query = f"{name}^{{commit}}\n{name}^{{tree}}\n"
    out = git(root, "cat-file", "--batch-check=%(objectname) %(objecttype)", stdin=query).stdout
    facts = [line.split() for line in out.splitlines()]
    if len(facts) != 2 or facts[0][-1] != "commit" or facts[1][-1] != "tree":
        return None
    return facts[0][0], facts[1][0]


def _holds_state(root: Path, commit: str) -> bool:
    """Whether `commit` has an entry (of any kind, a gitlink too) where the state folder is."""
    return bool(git(root, "ls-tree", "-z", commit, "--", STATE_DIR).stdout)


def _commit_with_tree(root: Path, tip: str, tree: str) -> str | None:
    """The latest first-parent ancestor of `tip` whose tree is `tree`: where the checkout stands."""
    if not tree:
        return None
    out = git(root, "log", "--first-parent", f"--max-count={HISTORY_DEPTH}", "--format=%H %T", tip)
    for line in out.stdout.splitlines():
        sha, _, commit_tree = line.partition(" ")
        if commit_tree == tree:
            return sha
    return None


def _lock_for(root: Path) -> threading.Lock:
    """One lock per checkout, so two syncs never race for its index."""
    with _guard:
        return _locks.setdefault(root.resolve(), threading.Lock())
