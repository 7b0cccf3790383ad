"""Repairing the person's checkout after a sync was killed half-way (crash recovery).

A sync is `git read-tree -m -u OLD NEW` after the branch moved. Killed in the middle, it leaves the
index at OLD's tree, some files already at NEW, and possibly `index.lock`. Such leftovers are told
apart from the person's own edits: the index must equal a recent commit's tree, and every changed
file must hold either its index content or the tip's content. Only then is the checkout reset to the
tip; anything else is the person's work and is left alone.
"""

from __future__ import annotations

from pathlib import Path

from shipyard.git.checkout import _commit_with_tree
from shipyard.git.ref import branch_tip
from shipyard.git.run import git, nul_split


def _changed_paths(root: Path) -> list[str]:
    out = git(root, "status", "--porcelain", "-z", "--untracked-files=no", "--no-renames")
    return [field[3:] for field in nul_split(out.stdout) if len(field) > 3]


def _blob(root: Path, spec: str) -> str | None:
    out = git(root, "rev-parse", "--verify", "--quiet", spec, ok=(0, 1, 128))
    return out.stdout.strip() or None


def _worktree_blob(root: Path, path: str) -> str | None:
    if not (root / path).is_file():
        return None
    return git(root, "hash-object", "--", path).stdout.strip()


def sync_leftovers(root: Path, branch: str) -> list[str] | None:
    """The changed paths if they are all leftovers of an interrupted sync; None if any is the person's."""
    paths = _changed_paths(root)
    tip = branch_tip(root, branch)
    index_tree = git(root, "write-tree", ok=(0, 128)).stdout.strip()
    if not paths or tip is None or _commit_with_tree(root, tip, index_tree) is None:
        return [] if not paths else None
    for path in paths:
        held = _worktree_blob(root, path)
        if held not in (_blob(root, f":{path}"), _blob(root, f"{tip}:{path}")):
            return None
    return paths


def _index_lock(root: Path) -> Path:
    lock = Path(git(root, "rev-parse", "--git-path", "index.lock").stdout.strip())
    return lock if lock.is_absolute() else root / lock


def finish_sync(root: Path, branch: str) -> bool:
    """Reset the checkout to the branch tip when its only changes are sync leftovers; True if it did.

    The caller holds the run lock, so an `index.lock` left by a killed git process is stale: removed.
    """
    _index_lock(root).unlink(missing_ok=True)
    leftovers = sync_leftovers(root, branch)
    if not leftovers:
        return False
    git(root, "read-tree", "--reset", "-u", f"refs/heads/{branch}")
    return True
