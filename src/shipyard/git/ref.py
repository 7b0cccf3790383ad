"""Read-only questions about commits and refs, asked of any work tree of the repository."""

from __future__ import annotations

from pathlib import Path

from shipyard.git.run import git


def rev_parse(cwd: Path, ref: str) -> str | None:
    """The commit sha that `ref` names, or None when there is no such commit."""
    out = git(cwd, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", ok=(0, 1))
    sha = out.stdout.strip()
    return sha if out.code == 0 and sha else None


def branch_tip(cwd: Path, branch: str) -> str | None:
    """The commit at the tip of a local branch, or None when the branch does not exist."""
    return rev_parse(cwd, f"refs/heads/{branch}")


def current_branch(cwd: Path) -> str | None:
    """The branch checked out in the work tree at `cwd`, or None when HEAD is detached."""
    out = git(cwd, "symbolic-ref", "--quiet", "HEAD", ok=(0, 1))
    name = out.stdout.strip()
    if out.code != 0 or not name.startswith("refs/heads/"):
        return None
    return name.removeprefix("refs/heads/")


def merge_base(cwd: Path, a: str, b: str) -> str | None:
    """One best common ancestor of two commits, or None when they share no history."""
    out = git(cwd, "merge-base", a, b, ok=(0, 1))
    return out.stdout.strip() or None


def is_ancestor(cwd: Path, ancestor: str, descendant: str) -> bool:
    """Whether `ancestor` is reachable from `descendant` (a commit is its own ancestor)."""
    return git(cwd, "merge-base", "--is-ancestor", ancestor, descendant, ok=(0, 1)).code == 0


def tree_of(cwd: Path, commit: str) -> str:
    """The tree sha of a commit."""
    return git(cwd, "rev-parse", "--verify", f"{commit}^{{tree}}").stdout.strip()
