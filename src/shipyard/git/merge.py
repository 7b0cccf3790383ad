"""Mechanical merge onto a shared branch without a work tree, safe against concurrent mergers.

Each attempt reads the tip, builds the result from objects alone (`merge-tree`, `commit-tree`) and
moves the branch with a compare-and-swap (`update-ref NEW OLD`). Losing the swap means someone else
landed first: the attempt starts over on the new tip, so no commit is ever lost or overwritten. A batch
merges several commits one after another in memory and moves the branch once for all of them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import GitError, RepoError
from shipyard.git.identity import Identity, identity_env
from shipyard.git.ref import OBJECT_ID, branch_tip, merge_base, rev_parse, tree_of
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


# Runs the branch's compare-and-swap (the callable: None when it won, else why not) with the results it
# would land; the caller may wrap it in its own transaction or refuse by raising (nothing then moves).
Gate = Callable[[Sequence[MergeResult], Callable[[], str | None]], str | None]


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
    return merge_batch(cwd, [request])[0]


def merge_batch(cwd: Path, requests: Sequence[MergeRequest], gate: Gate | None = None) -> list[MergeResult]:
    """Land several commits on one branch with a single compare-and-swap of the branch.

    Each commit is merged in memory onto the result of the one before it (its own merge commit, so
    history reads as if they landed one by one); a commit that conflicts is left out and reported. The
    branch then moves once, from the tip read at the start to the last result. Losing the swap means
    another update came first: the whole batch starts over on the new tip. `gate`, when given, runs
    each swap (see `Gate`).
    """
    if not requests:
        return []
    if len({r.branch for r in requests}) != 1:
        raise ValueError("a merge batch lands on one branch; split the requests by branch")
    commits = [_resolve(cwd, r.commit) for r in requests]
    lost = ""
    for retries in range(MAX_RETRIES + 1):
        outcome = _attempt(cwd, requests, commits, retries, gate)
        if not isinstance(outcome, str):
            return outcome
        lost = outcome
        time.sleep(random.uniform(0, BACKOFF_S * min(retries + 1, 8)))  # jitter: spread out the losers
    raise GitError(
        ["update-ref", f"refs/heads/{requests[0].branch}"],
        1,
        f"gave up merging {len(commits)} commit(s) after {MAX_RETRIES} retries; last refusal: {lost}",
    )


def _resolve(cwd: Path, commit: str) -> str:
    """The full sha of `commit` (a full sha is taken as is: one git call less per merge)."""
    if OBJECT_ID.fullmatch(commit):
        return commit
    sha = rev_parse(cwd, commit)
    if sha is None:
        raise GitError(["rev-parse", commit], 1, f"no commit named {commit!r}")
    return sha


def _attempt(
    cwd: Path, requests: Sequence[MergeRequest], commits: Sequence[str], retries: int, gate: Gate | None
) -> list[MergeResult] | str:
    """One try against the current tip; why the swap was lost when another update came first."""
    branch = requests[0].branch
    tip = branch_tip(cwd, branch)
    if tip is None:
        raise RepoError(f"branch `{branch}` does not exist in {cwd}; create it or pick another")
    contained = _contained(cwd, tip, commits[1:])
    head, results = tip, []
    for n, (request, commit) in enumerate(zip(requests, commits, strict=True)):
        if n == 0:
            result = _merge_first(cwd, head, request, commit, retries)
        elif commit in contained:
            result = MergeResult(True, head, head, (), retries, fast_forward=False)
        else:
            result = _merge_onto_head(cwd, head, request, commit, retries)
        if result.merged and result.sha is not None:
            head = result.sha
        results.append(result)
    if head == tip:  # nothing to move: every commit conflicted or was already there
        return results

    def swap() -> str | None:
        return _swap(cwd, requests[-1], head, tip)

    lost = swap() if gate is None else gate(results, swap)
    return results if lost is None else lost


def _contained(cwd: Path, tip: str, commits: Sequence[str]) -> set[str]:
    """Which of `commits` the tip already holds, in one git call (`rev-list` lists only the others)."""
    if not commits:
        return set()
    out = git(cwd, "rev-list", f"^{tip}", *dict.fromkeys(commits))
    return set(commits) - set(out.stdout.split())


def _merge_first(cwd: Path, head: str, request: MergeRequest, commit: str, retries: int) -> MergeResult:
    """The first commit of an attempt may already be on the branch, or fast-forward it."""
    base = merge_base(cwd, head, commit)
    if base == commit:  # already contained: merging again is a no-op (crash recovery relies on it)
        return MergeResult(True, head, head, (), retries, fast_forward=False)
    if base == head:
        return MergeResult(True, commit, head, (), retries, fast_forward=True)
    return _merge_onto_head(cwd, head, request, commit, retries)


def _merge_onto_head(cwd: Path, head: str, request: MergeRequest, commit: str, retries: int) -> MergeResult:
    """A merge commit of `commit` onto `head`, built in memory, or the conflicted paths. No ref moves."""
    tree, conflicts = merge_tree(cwd, head, commit)
    if conflicts:
        return MergeResult(False, None, head, conflicts, retries, fast_forward=False)
    new = _commit_tree(cwd, tree, (head, commit), request)
    return MergeResult(True, new, head, (), retries, fast_forward=False)


def undo_commit(cwd: Path, commit: str, before: str, request: MergeRequest) -> str:
    """A commit on top of `commit` whose tree is `before`'s, built from objects alone: merged onto a
    branch that holds `commit`, it takes back what `commit` changed since `before` (a revert)."""
    return _commit_tree(cwd, tree_of(cwd, before), (commit,), request)


def changed_paths(cwd: Path, tip: str, commit: str) -> tuple[str, ...]:
    """The files `commit` changes on its own side of a merge with `tip` (since their merge base)."""
    out = git(cwd, "diff", "--name-only", "--no-renames", "-z", f"{tip}...{commit}")
    return tuple(nul_split(out.stdout))


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
