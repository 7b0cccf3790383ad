"""Read-only questions about commits and refs, asked of any work tree of the repository."""

from __future__ import annotations

import re
from pathlib import Path

from shipyard.git.run import git

# A full object name: SHA-1, or SHA-256 in repositories that use it.
OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


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


def head_branch(worktree: Path) -> str | None:
    """The branch a linked worktree has checked out, read from its admin folder; None if unclear."""
    found = _admin_head(worktree)
    return None if found is None else found[1]


def head_commit(worktree: Path) -> str | None:
    """The commit at HEAD of a linked worktree, read from the files git keeps (its branch as a loose
    ref), sparing a process; None when the files are not plainly there (packed refs, a detached HEAD,
    another ref store), and then git must be asked."""
    found = _admin_head(worktree)
    if found is None:
        return None
    admin, branch = found
    try:
        common = admin / (admin / "commondir").read_text(encoding="utf-8").strip()
        sha = (common / "refs" / "heads" / branch).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return sha if OBJECT_ID.fullmatch(sha) else None


def no_merge_pending(worktree: Path) -> bool:
    """True when a linked worktree's admin folder is plainly there and holds no MERGE_HEAD (git keeps it
    as a file there), sparing a process; False when a merge may be pending, and then git must be asked."""
    found = _admin_head(worktree)
    return found is not None and not (found[0] / "MERGE_HEAD").exists()


def _admin_head(worktree: Path) -> tuple[Path, str] | None:
    """A linked worktree's admin folder and the branch its HEAD names; None if either is unclear."""
    try:
        pointer = (worktree / ".git").read_text(encoding="utf-8").strip()
        admin = worktree / pointer.removeprefix("gitdir: ")
        head = (admin / "HEAD").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not pointer.startswith("gitdir: ") or not head.startswith("ref: refs/heads/"):
        return None
    return admin, head.removeprefix("ref: refs/heads/")
