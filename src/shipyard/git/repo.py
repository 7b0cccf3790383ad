"""`GitRepo`: the one typed handle on the target repository that the rest of Shipyard uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import RepoError, SetupError
from shipyard.git import recovery, repair
from shipyard.git.attempt import AttemptStore
from shipyard.git.checkout import sync_checkout
from shipyard.git.commit import commit_all, start_merge, status_paths
from shipyard.git.identity import SHIPYARD, Identity, identity_env
from shipyard.git.merge import (
    Gate,
    MergeRequest,
    MergeResult,
    changed_paths,
    merge_batch,
    merge_onto,
    undo_commit,
)
from shipyard.git.ref import branch_tip, current_branch, is_ancestor, rev_parse
from shipyard.git.run import MIN_VERSION, git, git_version
from shipyard.git.worktree import add_worktree, list_worktrees, remove_worktree


def git_problem() -> str:
    """What is wrong with this machine's git ("" when nothing): missing, or older than merges need."""
    found = git_version()
    wanted = ".".join(map(str, MIN_VERSION))
    if found is None:
        return f"git was not found or did not run; install git {wanted} or newer"
    if found[:2] < MIN_VERSION:
        have = ".".join(map(str, found))
        return (
            f"git {have} is too old: Shipyard merges with `git merge-tree --write-tree`, new in git "
            f"{wanted}; install git {wanted} or newer"
        )
    return ""


def _require_git() -> None:
    """Refuse, naming the fix, when git is missing or older than Shipyard's merges need."""
    problem = git_problem()
    if problem:
        raise SetupError(problem)


@dataclass(frozen=True)
class GitRepo:
    """A non-bare repository with at least one commit; `root` is its top level, `git_dir` the common dir."""

    root: Path
    git_dir: Path

    @classmethod
    def open(cls, path: Path) -> GitRepo:
        """Open the repository at or above `path`, or raise `RepoError` saying what is wrong and the fix."""
        path = Path(path).expanduser()
        _require_git()
        if not path.is_dir():
            raise RepoError(f"{path} does not exist or is not a folder; pass the path of a git repository")
        probe = git(path, "rev-parse", "--is-bare-repository", "--is-inside-git-dir", ok=(0, 128))
        if probe.code != 0 and "not a git repository" in probe.stderr:
            raise RepoError(
                f"{path} is not a git repository; run `git init` there or pass the repository's path"
            )
        if probe.code != 0:  # e.g. "detected dubious ownership": git's own message names the fix
            raise RepoError(f"{path}: git cannot open it: {' '.join(probe.stderr.split())}")
        if probe.stdout.split()[:2] != ["false", "false"]:
            raise RepoError(
                f"{path} is a bare repository or a .git folder; pass a repository with a work tree "
                "(for a bare one, `git clone` it first)"
            )
        out = git(path, "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir")
        root, git_dir = (Path(line) for line in out.stdout.splitlines()[:2])
        if rev_parse(root, "HEAD") is None:
            raise RepoError(
                f"{root} has no commits; make a first commit (`git commit --allow-empty -m init`)"
            )
        return cls(root.resolve(), git_dir.resolve())

    def rev_parse(self, name: str) -> str | None:
        """The commit sha `name` refers to, or None when there is none."""
        return rev_parse(self.root, name)

    def branch_exists(self, name: str) -> bool:
        """Whether a local branch of this name exists."""
        return branch_tip(self.root, name) is not None

    def current_branch(self) -> str | None:
        """The branch checked out in the main work tree, or None when HEAD is detached."""
        return current_branch(self.root)

    def is_clean(self) -> bool:
        """Whether the main work tree has no changes, untracked files included (`.shipyard/` aside)."""
        return not status_paths(self.root)

    def tracked_changes(self) -> list[str]:
        """Tracked files with uncommitted changes in the main work tree."""
        return recovery.tracked_changes(self.root)

    def person_changes(self, branch: str) -> list[str]:
        """Tracked changes that are the person's own (not leftovers of a sync killed half-way)."""
        return [] if repair.sync_leftovers(self.root, branch) is not None else self.tracked_changes()

    def finish_interrupted_sync(self, branch: str) -> bool:
        """Complete a sync of the checkout that a crash cut short; True if there was one."""
        return repair.finish_sync(self.root, branch)

    def find_landed(self, branch: str, task_id: int) -> str | None:
        """The commit on `branch` that landed task `task_id`, if any."""
        return recovery.find_landed(self.root, branch, task_id)

    def branches_with_prefix(self, prefix: str) -> list[str]:
        """Local branches whose names start with `prefix`."""
        return recovery.branches_with_prefix(self.root, prefix)

    def delete_branch(self, name: str) -> None:
        """Delete a local branch; nothing happens if it is gone."""
        recovery.delete_branch(self.root, name)

    def maintain(self) -> None:
        """What git would do after a commit when its thresholds are passed (pack loose objects, ...);
        Shipyard's own git calls skip it, so the fleet runs it when no agent is at work."""
        git(self.root, "-c", "maintenance.auto=true", "maintenance", "run", "--auto", "--quiet")

    def fsck(self) -> tuple[bool, str]:
        """`git fsck`: whether the repository is sound, and the report."""
        return recovery.fsck_ok(self.root)

    def ensure_ignored(self, pattern: str) -> None:
        """Add `pattern` to `.git/info/exclude` once, so the person's own files stay untouched."""
        exclude = self.git_dir / "info" / "exclude"
        text = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
        if pattern in text.splitlines():
            return
        exclude.parent.mkdir(parents=True, exist_ok=True)
        prefix = "" if not text or text.endswith("\n") else "\n"
        with exclude.open("a", encoding="utf-8") as handle:
            handle.write(f"{prefix}{pattern}\n")

    def add_worktree(self, path: Path, branch: str, start: str, spot: Path | None = None) -> Path:
        """Create `branch` at `start` in a new worktree at `path`, clearing leftovers of a crash first
        (and reusing the files parked at `spot`, if any)."""
        return add_worktree(self.root, path, branch, start, spot)

    def remove_worktree(self, path: Path, delete_branch: str | None = None, spot: Path | None = None) -> None:
        """Force-remove a worktree and optionally a branch; no error when they are already gone
        (with `spot`, its files are parked there for the next worktree)."""
        remove_worktree(self.root, path, delete_branch, spot)

    def list_worktrees(self) -> list[Path]:
        """The linked worktrees (the main work tree is not listed)."""
        return list_worktrees(self.root)

    def commit_all(
        self,
        worktree: Path,
        message: str,
        author: Identity,
        committer: Identity,
        merge_head: str | None = None,
    ) -> str | None:
        """Stage and commit everything in `worktree` (concluding the harness's merge of `merge_head`)."""
        return commit_all(worktree, message, author, committer, merge_head)

    def merge_onto(
        self, branch: str, commit: str, message: str, author: Identity, committer: Identity
    ) -> MergeResult:
        """Land `commit` on `branch` without a work tree; never loses a concurrent merge, never forces."""
        request = MergeRequest(branch, commit, message, author, committer)
        return merge_onto(self.root, request)

    def merge_batch(self, requests: Sequence[MergeRequest], gate: Gate | None = None) -> list[MergeResult]:
        """Land several commits on one branch with one compare-and-swap; a result per request, in order."""
        return merge_batch(self.root, requests, gate)

    def undo_commit(self, commit: str, before: str, message: str, identity: Identity) -> str:
        """A commit that, merged onto a branch holding `commit`, reverts it to `before`'s content."""
        request = MergeRequest("", commit, message, identity, identity)
        return undo_commit(self.root, commit, before, request)

    def changed_paths(self, tip: str, commit: str) -> tuple[str, ...]:
        """The files `commit` changes on its own side of a merge with `tip`."""
        return changed_paths(self.root, tip, commit)

    def sync_checkout(self, branch: str, old: str, new: str) -> bool:
        """Update the main work tree if it has `branch` checked out; False if not, or edits are in the way."""
        return sync_checkout(self.root, branch, old, new)

    def start_merge(self, worktree: Path, ref: str, identity: Identity = SHIPYARD) -> tuple[str, ...]:
        """Merge `ref` into a worktree; the conflicted paths, with conflict markers left for the agent."""
        return start_merge(worktree, ref, identity)

    def contains(self, branch: str, commit: str) -> bool:
        """Whether `commit` is already part of `branch`."""
        tip = branch_tip(self.root, branch)
        sha = rev_parse(self.root, commit)
        return tip is not None and sha is not None and is_ancestor(self.root, sha, tip)

    def authors(self, branch: str) -> list[str]:
        """The author name of every commit on `branch`, newest first."""
        out = git(self.root, "log", "--format=%an", f"refs/heads/{branch}", "--")
        return out.stdout.splitlines()

    def attempts(self) -> AttemptStore:
        """The attempts kept on `refs/shipyard/attempts/` (work of agents that did not land)."""
        return AttemptStore(self.root)

    def changed_files(self, worktree: Path) -> list[str]:
        """Paths with uncommitted changes in `worktree`, untracked files included, sorted."""
        return status_paths(worktree)


def init_repo(root: Path, branch: str, identity: Identity, message: str) -> GitRepo:
    """Make `root` a new repository on `branch` whose first commit holds everything in it."""
    if (root / ".git").exists():
        raise RepoError(f"{root} is already a git repository; pass a new or empty folder")
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "--quiet", "-b", branch)
    git(root, "add", "--all")
    env = identity_env(identity, identity)
    git(root, "commit", "--quiet", "--no-verify", "--allow-empty", "--file=-", env=env, stdin=message)
    return GitRepo.open(root)
