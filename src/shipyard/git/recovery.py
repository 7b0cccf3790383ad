"""What crash recovery asks of git: landed task commits, leftover branches, health of the object store."""

from __future__ import annotations

from pathlib import Path

from shipyard.git.run import git


def find_landed(root: Path, branch: str, task_id: int) -> str | None:
    """The newest commit on `branch` whose message carries `Shipyard-Task: #ID`, or None."""
    pattern = f"^Shipyard-Task: #{task_id}$"
    out = git(root, "log", "-n1", "--format=%H", f"--grep={pattern}", f"refs/heads/{branch}")
    sha = out.stdout.strip()
    return sha or None


def branches_with_prefix(root: Path, prefix: str) -> list[str]:
    """Local branch names that start with `prefix`."""
    out = git(root, "for-each-ref", "--format=%(refname:short)", f"refs/heads/{prefix}")
    return [line for line in out.stdout.splitlines() if line]


def delete_branch(root: Path, name: str) -> None:
    """Delete a local branch if it exists and is not checked out anywhere."""
    git(root, "branch", "-D", name, ok=(0, 1))


def fsck_ok(root: Path) -> tuple[bool, str]:
    """Whether `git fsck` finds the object store sound, and what it said."""
    out = git(root, "fsck", "--no-progress", "--no-dangling", ok=(0, 1, 2, 3, 4, 5, 6, 7, 8))
    return out.code == 0, (out.stdout + out.stderr).strip()


def tracked_changes(root: Path) -> list[str]:
    """Paths with uncommitted changes to tracked files (untracked files do not count)."""
    out = git(root, "status", "--porcelain", "--untracked-files=no")
    return [line[3:] for line in out.stdout.splitlines() if line.strip()]
