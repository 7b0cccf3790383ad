"""Isolation verified, not assumed: what a CLI run changed outside its own worktree.

Before and after each run Shipyard takes a snapshot of what no agent may touch: the person's checkout
(its files, its HEAD, the repository's config and hooks), the person's other worktrees, the branch each
Shipyard worktree has checked out, and every ref outside the agents' own `shipyard/*` branches. Changes
that Shipyard itself makes meanwhile are told apart: the shared branch may only move forward through
commits Shipyard committed (merges and its own commits), and the checkout may only change where those
merges changed files. Other Shipyard worktrees belong to agents that run at the same time, so their
files are not compared (only which branch they have checked out).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shipyard.git.ref import current_branch, is_ancestor
from shipyard.git.run import git, nul_split
from shipyard.git.worktree import worktree_entries

# Committers of everything Shipyard puts on the shared branch (its harness identity and git layer's).
SHIPYARD_COMMITTERS = frozenset({"shipyard@shipyard.local", "shipyard@localhost"})
AGENT_BRANCHES = "refs/heads/shipyard/"
FileStats = dict[str, tuple[int, int]]


@dataclass(frozen=True)
class Snapshot:
    """The state outside one worktree that its agent must leave alone."""

    refs: dict[str, str]
    checkout: FileStats
    checkout_head: str
    admin: dict[str, str]
    own_branch: str | None = None
    branches: dict[str, str | None] = field(default_factory=dict)
    foreign: dict[str, FileStats] = field(default_factory=dict)


class IsolationGuard:
    """Takes snapshots of one repository and names the changes an agent in `worktree` must not make."""

    def __init__(self, root: Path, branch: str, state_dir: Path) -> None:
        self.root = root.resolve()
        self.branch = branch
        self.state_dir = state_dir.resolve()

    def snapshot(self, worktree: Path) -> Snapshot:
        own = worktree.resolve()
        branches: dict[str, str | None] = {}
        foreign: dict[str, FileStats] = {}
        for entry in worktree_entries(self.root)[1:]:
            path = entry.path.resolve()
            if path == own:
                continue
            if path.is_relative_to(self.state_dir):
                branches[str(path)] = entry.branch
            else:
                foreign[str(path)] = file_stats(path)
        return Snapshot(
            refs=_refs(self.root),
            checkout=file_stats(self.root),
            checkout_head=_head(self.root),
            admin=_admin(self.root),
            own_branch=current_branch(own),
            branches=branches,
            foreign=foreign,
        )

    def violations(self, before: Snapshot, after: Snapshot) -> list[str]:
        """What changed outside the worktree that Shipyard did not do; empty when isolation held."""
        old, new = before.refs.get(f"refs/heads/{self.branch}"), after.refs.get(f"refs/heads/{self.branch}")
        found = self._branch_moves(old, new)
        found += _ref_changes(before.refs, after.refs, {f"refs/heads/{self.branch}"})
        if before.checkout_head != after.checkout_head:
            found.append(f"the checkout at {self.root} switched HEAD to `{after.checkout_head}`")
        found += [f"{self.root / '.git' / name} changed" for name in _changed(before.admin, after.admin)]
        merged = self._merged_files(old, new) if not found else set()
        checkout = _changed(before.checkout, after.checkout) - merged
        found += [f"{self.root / name} changed (the person's checkout)" for name in sorted(checkout)]
        if before.own_branch != after.own_branch:
            found.append(f"its own worktree switched from `{before.own_branch}` to `{after.own_branch}`")
        for path, was in before.branches.items():
            if path in after.branches and after.branches[path] != was:
                found.append(f"worktree {path} switched from `{was}` to `{after.branches[path]}`")
        for path, files in before.foreign.items():
            for name in sorted(_changed(files, after.foreign.get(path, {}))):
                found.append(f"{Path(path) / name} changed (another worktree)")
        return found

    def _branch_moves(self, old: str | None, new: str | None) -> list[str]:
        """The shared branch may only move forward, by commits Shipyard committed."""
        if old == new:
            return []
        if old is None or new is None or not is_ancestor(self.root, old, new):
            return [f"the shared branch `{self.branch}` was moved or rewritten ({old} -> {new})"]
        out = git(self.root, "log", "--first-parent", "--format=%H %ce", f"{old}..{new}", "--")
        commits = (line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
        return [
            f"commit {sha[:10]} by {email} landed on `{self.branch}` without Shipyard"
            for sha, email in commits
            if email not in SHIPYARD_COMMITTERS
        ]

    def _merged_files(self, old: str | None, new: str | None) -> set[str]:
        """Files Shipyard's merges changed meanwhile (it keeps a checked-out shared branch in step)."""
        if old is None or new is None or old == new:
            return set()
        out = git(self.root, "diff", "--name-only", "-z", "--no-renames", old, new, "--")
        return set(nul_split(out.stdout))


def file_stats(root: Path) -> FileStats:
    """Size and modification time of every file git would see in the checkout at `root` (tracked, or
    untracked and not ignored); the `.shipyard/` state folder is never part of it."""
    out = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", ok=(0, 128))
    stats: FileStats = {}
    for name in set(nul_split(out.stdout)):
        if name.startswith(".shipyard/"):
            continue
        try:
            st = os.lstat(root / name)
        except OSError:
            stats[name] = (-1, -1)  # listed but gone: a deletion the index has not seen
            continue
        stats[name] = (st.st_size, st.st_mtime_ns)
    return stats


def _refs(root: Path) -> dict[str, str]:
    out = git(root, "for-each-ref", "--format=%(refname) %(objectname)")
    pairs = (line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    return {name: sha for name, sha in pairs if not name.startswith(AGENT_BRANCHES)}


def _ref_changes(before: dict[str, str], after: dict[str, str], skip: set[str]) -> list[str]:
    names = sorted((before.keys() | after.keys()) - skip)
    return [
        f"ref `{name}` changed ({before.get(name)} -> {after.get(name)})"
        for name in names
        if before.get(name) != after.get(name)
    ]


def _head(root: Path) -> str:
    out = git(root, "symbolic-ref", "-q", "HEAD", ok=(0, 1))
    return out.stdout.strip() or git(root, "rev-parse", "HEAD", ok=(0, 128)).stdout.strip()


def _admin(root: Path) -> dict[str, str]:
    """Digests of the repository's shared config and hooks, which every worktree uses."""
    common = Path(git(root, "rev-parse", "--path-format=absolute", "--git-common-dir").stdout.strip())
    files = [common / "config", *sorted((common / "hooks").glob("*"))]
    return {str(p.relative_to(common)): _digest(p) for p in files if p.is_file()}


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def _changed(before: Mapping[str, object], after: Mapping[str, object]) -> set[str]:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
