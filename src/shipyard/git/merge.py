"""Mechanical merge onto a shared branch without a work tree, safe against concurrent mergers.

Each attempt reads the tip, builds the result from objects alone (`merge-tree`, `commit-tree`) and
moves the branch with a compare-and-swap (`update-ref NEW OLD`). Losing the swap means someone else
landed first: the attempt starts over on the new tip, so no commit is ever lost or overwritten.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import GitError, RepoError
from shipyard.git.identity import Identity, identity_env
from shipyard.git.ref import branch_tip, merge_base, rev_parse
from shipyard.git.run import git, nul_split

MAX_RETRIES = 50
BACKOFF_S = 0.01


@dataclass(frozen=True)
class MergeResult:
    """How a merge onto a branch went; `sha` is the branch tip that contains the commit, if merged."""

    merged: bool
    sha: str | None
    old_tip: str | None
    conflicts: tuple[str, ...]
    retries: int
    fast_forward: bool


@dataclass(frozen=True)
class MergeRequest:
    """One commit to land on one branch, and who the merge commit is by."""

    branch: str
    commit: str
    message: str
    author: Identity
    committer: Identity


def merge_onto(cwd: Path, request: MergeRequest) -> MergeResult:
    """Land `request.commit` on `request.branch`, retrying whenever another merge moved the branch first."""
    commit = rev_parse(cwd, request.commit)
    if commit is None:
        raise GitError(["rev-parse", request.commit], 1, f"no commit named {request.commit!r}")
    lost = ""
    for retries in range(MAX_RETRIES + 1):
        result = _attempt(cwd, request, commit, retries)
        if isinstance(result, MergeResult):
            return result
        lost = result
        time.sleep(random.uniform(0, BACKOFF_S * min(retries + 1, 8)))  # jitter: spread out the losers
    raise GitError(
        ["update-ref", f"refs/heads/{request.branch}"],
        1,
        f"gave up merging {commit} after {MAX_RETRIES} retries; last refusal: {lost}",
    )


def _attempt(cwd: Path, request: MergeRequest, commit: str, retries: int) -> MergeResult | str:
    """One try against the current tip; why the swap was lost when another update came first."""
    tip = branch_tip(cwd, request.branch)
    if tip is None:
        raise RepoError(f"branch `{request.branch}` does not exist in {cwd}; create it or pick another")
    base = merge_base(cwd, tip, commit)
    if base == commit:  # already contained: merging again is a no-op (crash recovery relies on it)
        return MergeResult(True, tip, tip, (), retries, fast_forward=False)
    if base == tip:
        new, fast_forward = commit, True
    else:
        tree, conflicts = merge_tree(cwd, tip, commit)
        if conflicts:
            return MergeResult(False, None, tip, conflicts, retries, fast_forward=False)
        new, fast_forward = _commit_tree(cwd, tree, (tip, commit), request), False
    lost = _swap(cwd, request, new, tip)
    if lost is not None:
        return lost
    return MergeResult(True, new, tip, (), retries, fast_forward)


def merge_tree(cwd: Path, ours: str, theirs: str) -> tuple[str, tuple[str, ...]]:
    """Merge two commits in memory: the resulting tree and the conflicted paths (empty when clean)."""
    out = git(
        cwd, "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", ours, theirs, ok=(0, 1)
    )
    tree, *paths = nul_split(out.stdout)
    conflicts = tuple(dict.fromkeys(paths)) if out.code == 1 else ()
    if out.code == 1 and not conflicts:
        raise GitError(["merge-tree", ours, theirs], 1, "reported a conflict but named no file")
    return tree, conflicts


def _commit_tree(cwd: Path, tree: str, parents: tuple[str, ...], request: MergeRequest) -> str:
    """Write a commit object for `tree` without touching any ref."""
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    env = identity_env(request.author, request.committer)
    return git(cwd, *args, "-F", "-", env=env, stdin=request.message).stdout.strip()


def _swap(cwd: Path, request: MergeRequest, new: str, old: str) -> str | None:
    """Move the branch from `old` to `new` only if it is still there; else why not (another update won)."""
    ref = f"refs/heads/{request.branch}"
    env = identity_env(request.committer, request.committer)
    reflog = f"shipyard: merge {new}"
    done = git(cwd, "update-ref", "-m", reflog, ref, new, old, env=env, ok=(0, 1, 128))
    if done.code == 0:
        return None
    if branch_tip(cwd, request.branch) != old or "cannot lock ref" in done.stderr:
        return done.stderr.strip() or "the branch moved"
    raise GitError(["update-ref", ref, new, old], done.code, done.stderr)
