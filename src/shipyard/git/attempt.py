"""Kept attempts: a worktree's whole state as a commit on a ref outside the branches, and back again.

An attempt that does not land leaves its work on `refs/shipyard/attempts/<task>/<n>`: everything in the
worktree (committed or not, untracked files included, ignored files not), made without touching the
worktree's index or HEAD. The refs are never branches, so nothing pushes or deletes them by accident.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import GitError
from shipyard.git.hazard import NEVER_STAGED, refuse_nested
from shipyard.git.identity import Identity, identity_env
from shipyard.git.ref import OBJECT_ID, is_ancestor, rev_parse, tree_of
from shipyard.git.run import NO_REFLOG, git, nul_split

ATTEMPTS_REF = "refs/shipyard/attempts/"
ARCHIVE_REF = "refs/shipyard/archive/"  # kept attempts of earlier runs (task numbers start again at 1)
_TRAILER = re.compile(r"^Shipyard-([A-Za-z]+): (.*)$", re.MULTILINE)
_RECORD = "%1e"  # for-each-ref: a record separator between refs


def attempt_ref(task_id: int, attempt: int) -> str:
    """The ref that keeps attempt `attempt` of task `task_id`."""
    return f"{ATTEMPTS_REF}{task_id}/{attempt}"


@dataclass(frozen=True)
class KeptCommit:
    """A kept attempt as git holds it: ref, commit, time, message and its `Shipyard-*` trailers."""

    ref: str
    sha: str
    when: float
    message: str
    trailers: dict[str, str]

    @property
    def task_id(self) -> int:
        return int(self.ref.removeprefix(ATTEMPTS_REF).split("/")[0])

    @property
    def attempt(self) -> int:
        return int(self.ref.removeprefix(ATTEMPTS_REF).split("/")[1])


@dataclass(frozen=True)
class Snapshot:
    """Where to keep a worktree's state, with what message and author; `branch` is the shared branch."""

    ref: str
    message: str
    author: Identity
    branch: str


def snapshot_worktree(root: Path, worktree: Path, snap: Snapshot) -> str | None:
    """Commit everything in `worktree` onto `snap.ref` (parents: its HEAD, and a pending MERGE_HEAD),
    leaving its index and HEAD as they were; what a worker's commit never holds is left out, and a
    worktree with a nested repository is refused (`UnsafeWorktreeError`), as for that commit.

    None when there is nothing to keep: no checkout yet, or no work (the files are those of a commit
    already on the shared branch). An existing ref is never overwritten: its commit is returned."""
    ref = snap.ref
    kept = rev_parse(root, ref)
    if kept is not None:
        return kept
    head = rev_parse(worktree, "HEAD") if (worktree / ".git").exists() else None
    index = _index_path(worktree) if head is not None else None
    if head is None or index is None or not index.is_file():
        return None  # never checked out (or already gone): no agent could have written anything
    refuse_nested(worktree)  # as for a worker's commit: git must not look inside an agent's repository
    tree = _tree_with_everything(worktree, index)
    merging = rev_parse(worktree, "MERGE_HEAD")
    if tree == tree_of(worktree, head) and merging is None and _on_branch(root, head, snap.branch):
        return None
    parents = [head] + ([merging] if merging and merging != head else [])
    args = [arg for parent in parents for arg in ("-p", parent)]
    env = identity_env(snap.author, snap.author)
    sha = git(root, "commit-tree", tree, *args, "-F", "-", env=env, stdin=snap.message).stdout.strip()
    done = git(root, *NO_REFLOG, "update-ref", ref, sha, "", ok=(0, 1, 128))
    return sha if done.code == 0 else rev_parse(root, ref)


def _index_path(worktree: Path) -> Path | None:
    raw = git(worktree, "rev-parse", "--git-path", "index", ok=(0, 128))
    if raw.code != 0 or not raw.stdout.strip():
        return None
    path = Path(raw.stdout.strip())
    return path if path.is_absolute() else worktree / path


def _tree_with_everything(worktree: Path, index: Path) -> str:
    """The tree of the worktree's files as a worker's commit would stage them, in a copy of its index."""
    with tempfile.TemporaryDirectory(prefix="shipyard-attempt-") as temp:
        scratch = Path(temp) / "index"
        shutil.copyfile(index, scratch)  # its stat data spares hashing files that did not change
        env = {"GIT_INDEX_FILE": str(scratch)}
        git(worktree, "add", "--all", "--", ".", *NEVER_STAGED, env=env)
        return git(worktree, "write-tree", env=env).stdout.strip()


def _on_branch(root: Path, head: str, branch: str) -> bool:
    """Whether `head` is on the shared branch already (the worktree holds no commit of its own)."""
    tip = rev_parse(root, f"refs/heads/{branch}")
    return tip is not None and is_ancestor(root, head, tip)


def kept_commits(root: Path, task_id: int | None = None) -> list[KeptCommit]:
    """Every kept attempt (of one task, if given), by task then attempt."""
    where = attempt_ref(task_id, 0)[:-1] if task_id is not None else ATTEMPTS_REF
    fmt = f"%(refname)%00%(objectname)%00%(committerdate:unix)%00%(contents){_RECORD}"
    out = git(root, "for-each-ref", f"--format={fmt}", where)
    found = []
    for record in out.stdout.split("\x1e"):
        fields = record.lstrip("\n").split("\0")
        if len(fields) != 4 or not re.fullmatch(r"\d+/\d+", fields[0].removeprefix(ATTEMPTS_REF)):
            continue
        trailers = dict(_TRAILER.findall(fields[3]))
        found.append(KeptCommit(fields[0], fields[1], float(fields[2] or 0), fields[3], trailers))
    return sorted(found, key=lambda k: (k.task_id, k.attempt))


@dataclass(frozen=True)
class Changes:
    """What a kept attempt changes against the shared branch: files and lines."""

    files: tuple[str, ...]
    added: int
    removed: int


def changes_against(root: Path, branch: str, sha: str) -> Changes:
    """The files and lines `sha` changes on its own side of `branch` (from their merge base)."""
    base = git(root, "merge-base", f"refs/heads/{branch}", sha, ok=(0, 1, 128)).stdout.strip()
    return changes_between(root, base or sha, sha)


def changes_between(root: Path, base: str, sha: str) -> Changes:
    """The files and lines that differ from `base` to `sha`."""
    out = git(root, "diff", "--numstat", "-z", "--no-renames", base, sha)
    return _numstat(nul_split(out.stdout))


def _numstat(rows: list[str]) -> Changes:
    files, added, removed = [], 0, 0
    for row in rows:
        plus, minus, name = row.split("\t", 2)
        files.append(name)
        added += int(plus) if plus.isdigit() else 0
        removed += int(minus) if minus.isdigit() else 0
    return Changes(tuple(files), added, removed)


def landed_changes(root: Path, shas: list[str]) -> dict[str, Changes]:
    """What each commit brought to its branch (against its first parent), with one git call; commits
    git does not have are left out."""
    wanted = [sha for sha in dict.fromkeys(shas) if OBJECT_ID.fullmatch(sha)]
    if not wanted:
        return {}
    args = ("--no-walk=unsorted", "--diff-merges=first-parent", "--numstat", "--no-renames")
    out = git(root, "log", *args, "--format=%x1e%H", *wanted, "--", ok=(0, 128))
    if out.code != 0:  # one of them is gone (history rewritten): ask about each
        found = [sha for sha in wanted if rev_parse(root, sha) is not None]
        return landed_changes(root, found) if len(found) < len(wanted) else {}
    changes = {}
    for record in out.stdout.split("\x1e")[1:]:
        head, _, body = record.partition("\n")
        changes[head.strip()] = _numstat([line for line in body.splitlines() if line.count("\t") >= 2])
    return changes


def delete_kept(root: Path, refs: list[str]) -> int:
    """Delete kept attempts' refs; how many there were."""
    if not refs:
        return 0
    script = "".join(f"delete {ref}\n" for ref in refs)
    git(root, "update-ref", "--stdin", stdin=script)
    return len(refs)


def archive_kept(root: Path, name: str) -> int:
    """Move every kept attempt to `refs/shipyard/archive/<name>/...` (a new run numbers its tasks from 1
    again); how many moved."""
    out = git(root, "for-each-ref", "--format=%(refname) %(objectname)", ATTEMPTS_REF)
    pairs = [line.split(" ", 1) for line in out.stdout.splitlines() if line]
    if not pairs:
        return 0
    moves = [f"create {ARCHIVE_REF}{name}/{ref.removeprefix(ATTEMPTS_REF)} {sha}\n" for ref, sha in pairs]
    deletes = [f"delete {ref} {sha}\n" for ref, sha in pairs]
    git(root, "update-ref", "--stdin", stdin="".join(moves + deletes))
    return len(pairs)


def archived_refs(root: Path) -> list[str]:
    """The refs of kept attempts of earlier runs."""
    out = git(root, "for-each-ref", "--format=%(refname)", ARCHIVE_REF)
    return [line for line in out.stdout.splitlines() if line]


def kept_disk_bytes(root: Path) -> int:
    """Bytes on disk of the objects only kept attempts hold (what deleting them would free, after gc)."""
    globs = (f"--glob={ATTEMPTS_REF}*", f"--glob={ARCHIVE_REF}*")
    out = git(root, "rev-list", "--objects", "--disk-usage", *globs, "--not", "--branches", "--tags")
    text = out.stdout.strip()
    return int(text) if text.isdigit() else 0


def continue_from(worktree: Path, sha: str) -> tuple[str, ...]:
    """Bring a kept attempt's changes into a fresh worktree, rebased onto its HEAD and left uncommitted;
    the conflicted paths, with conflict markers left in the files (as a merge does for the agent)."""
    done = git(worktree, "merge", "--squash", "--no-verify", sha, ok=(0, 1))
    if done.code == 0:
        return ()
    out = git(worktree, "diff", "--name-only", "-z", "--diff-filter=U")
    conflicts = tuple(dict.fromkeys(nul_split(out.stdout)))
    if not conflicts:
        raise GitError(["merge", "--squash", sha], done.code, done.stderr or done.stdout)
    return conflicts


def valid_branch_name(root: Path, name: str) -> bool:
    """Whether git accepts `name` as a new branch's name."""
    done = git(root, "check-ref-format", "--branch", name, ok=(0, 1, 128))
    return done.code == 0 and not name.startswith("-")


def make_branch(root: Path, name: str, sha: str) -> bool:
    """Create branch `name` at `sha`; False (nothing changed) when it exists already."""
    return git(root, "update-ref", f"refs/heads/{name}", sha, "", ok=(0, 1, 128)).code == 0


@dataclass(frozen=True)
class AttemptStore:
    """The kept attempts of one repository (see the module's docstring)."""

    root: Path

    def keep(self, worktree: Path, snap: Snapshot) -> str | None:
        return snapshot_worktree(self.root, worktree, snap)

    def kept(self, task_id: int | None = None) -> list[KeptCommit]:
        return kept_commits(self.root, task_id)

    def changes(self, branch: str, sha: str) -> Changes:
        return changes_against(self.root, branch, sha)

    def landed_changes(self, shas: list[str]) -> dict[str, Changes]:
        """What each commit on the shared branch brought (against its first parent)."""
        return landed_changes(self.root, shas)

    def delete(self, refs: list[str]) -> int:
        return delete_kept(self.root, refs)

    def archive(self, name: str) -> int:
        return archive_kept(self.root, name)

    def archived(self) -> list[str]:
        return archived_refs(self.root)

    def disk_bytes(self) -> int:
        return kept_disk_bytes(self.root)

    def continue_in(self, worktree: Path, sha: str) -> tuple[str, ...]:
        return continue_from(worktree, sha)

    def valid_branch_name(self, name: str) -> bool:
        return valid_branch_name(self.root, name)

    def make_branch(self, name: str, sha: str) -> bool:
        return make_branch(self.root, name, sha)
