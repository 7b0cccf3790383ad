"""A worker slot's side on a cluster node: its clone, its task's worktree, the agent session, the commit
going back as a bundle. No Ray here: the actor (`cluster.actor`) only wraps a `NodeSlot`.

Each node keeps one bare mirror that every slot on it borrows objects from (git alternates); a slot has
its own small clone, so git's per-process worktree bookkeeping never races another process.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from shipyard.agent import AgentOutcome
from shipyard.board.memory import InMemoryBoard
from shipyard.cluster.parts import equip
from shipyard.cluster.spend import Spent
from shipyard.config import ShipyardConfig
from shipyard.domain import Event, Role, Task
from shipyard.errors import GitError, ShipyardError, UnsafeWorktreeError
from shipyard.fleet.attempts import Opening, continue_attempt
from shipyard.fleet.briefing import notes_size
from shipyard.fleet.rounds import with_markers, worker_session
from shipyard.fleet.runtime import HARNESS, Runtime, agent_identity
from shipyard.git import GitRepo
from shipyard.git.attempt import KeptCommit, Snapshot
from shipyard.git.bundle import create_bundle, delete_ref, has_commit, set_ref, store_bundle
from shipyard.git.hazard import nested_repositories
from shipyard.git.parking import remove_entry, reset_to
from shipyard.git.run import git
from shipyard.models.base import Model

SLOT_BRANCH = "shipyard/slot"  # the branch checked out in a slot's worktree, whatever its task
NodeModels = Callable[[ShipyardConfig, Callable[[str], None]], Mapping[Role, Model]]


@dataclass(frozen=True)
class NodeJob:
    """All a node gets for one task: serialisable, and no secrets (keys come from the node's env)."""

    config: ShipyardConfig
    task: Task
    agent: str
    start: str  # the shared branch's tip the worktree starts from
    prompts: Mapping[str, str] = field(default_factory=dict)  # prompt overrides, by file name
    spent: Spent = field(default_factory=Spent)  # the run's spending so far, for the node's budget checks


@dataclass(frozen=True)
class Shipment:
    """Commits between the head and a node: a bundle (`git.bundle`) whose tip is `sha`."""

    sha: str
    data: bytes


@dataclass(frozen=True)
class NodeCommit:
    """A commit made on the node: the bundle that brings it to the head (None: nothing new), or why the
    node would not make it (a nested repository in the worktree, a git failure)."""

    shipment: Shipment | None = None
    refused: str = ""


@dataclass(frozen=True)
class SessionEnd:
    """A session's end, with what the head asks next, so it needs no more round trips: the events not yet
    drained and NOTES.md's size."""

    outcome: AgentOutcome
    fatal: str = ""  # a fault no retry fixes (bad key, unknown model): the head stops the run
    events: tuple[Event, ...] = ()
    notes_chars: int = 0


class NodeMirror:
    """The node's bare repository of everything shipped to it; fetches take a file lock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        with self._locked():
            if not (root / "HEAD").exists():
                git(root.parent, "init", "--quiet", "--bare", str(root))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.parent.mkdir(parents=True, exist_ok=True)
        with open(self.root.parent / "mirror.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def has(self, sha: str) -> bool:
        return has_commit(self.root, sha)

    def receive(self, shipment: Shipment) -> None:
        """Store what the head sent (no ref needed: nothing ever prunes the mirror)."""
        with self._locked():
            store_bundle(self.root, shipment.data)


class NodeSlot:
    """One worker slot on a node: works one task at a time in a worktree of its own clone."""

    def __init__(self, base_dir: Path, node_key: str, slot_key: str, models: NodeModels) -> None:
        self.mirror = NodeMirror(base_dir / node_key / "mirror.git")
        slots = base_dir / node_key / "slots"
        self.dir = slots / slot_key
        self.dir.mkdir(parents=True, exist_ok=True)
        lock = os.open(slots / f"{slot_key}.lock", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._release = weakref.finalize(self, os.close, lock)  # held for the slot's life, even if dropped
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        sweep_slots(slots)
        root = self.dir / "repo"
        if not (root / ".git").exists():
            root.mkdir(parents=True, exist_ok=True)
            git(root, "init", "--quiet")
            alternates = root / ".git" / "objects" / "info" / "alternates"
            alternates.write_text(f"{self.mirror.root / 'objects'}\n")
        self.repo = GitRepo(root, root / ".git")
        self._models = models
        self._events: list[Event] = []
        self._rt: Runtime | None = None
        self._job: NodeJob | None = None
        self._bases: list[str] = []  # commits the head holds that this task's branch builds on
        self._fatal = ""
        self._pointer: str | None = None  # the worktree's `.git` file as git wrote it

    @property
    def worktree(self) -> Path:
        return self.dir / "wt"

    def open(self, job: NodeJob) -> int:
        """Start the task: the slot's worktree at `job.start` (which the mirror must hold) exactly as a
        fresh checkout, whatever the last task left there; NOTES.md's size there."""
        self.close()
        prompts = self.dir / "prompts"
        prompts.mkdir(parents=True, exist_ok=True)
        for old in prompts.iterdir():
            old.unlink()
        for name, text in job.prompts.items():
            (prompts / Path(name).name).write_text(text, encoding="utf-8")
        config = job.config.model_copy(update={"prompts_dir": str(prompts)})
        self._fatal, self._job, self._bases = "", job, [job.start]
        models = dict(self._models(config, self._set_fatal))
        self._rt = Runtime(config, self.repo, InMemoryBoard(), models, progress=self._events.append)
        job.spent.carry_into(self._rt)
        equip(self._rt, self.dir, self._set_fatal)  # budget guard, worker CLIs with the node's gateway
        self._check_out(job.start)
        return self.notes_chars()

    def _check_out(self, start: str) -> None:
        """The slot's one worktree at `start`. The clone is the slot's alone, so the worktree stays
        registered from task to task and git rewrites only what differs from `start` and deletes every
        untracked or ignored file: two git processes, where removing and adding a worktree took seven.
        Its admin folder and `.git` file are read-only in the sandbox, and the `.git` file must still be
        the one git wrote (CLI workers run in their CLIs' own sandboxes). A worktree that is missing,
        holds a nested repository, or that git cannot reset is made afresh."""
        if self._reusable():
            try:
                reset_to(self.worktree, start)
                return
            except GitError:
                pass
        remove_entry(self.worktree)  # first (folders an agent locked too): git never runs in what was left
        self.repo.remove_worktree(self.worktree, SLOT_BRANCH)
        self.repo.add_worktree(self.worktree, SLOT_BRANCH, start)
        self._pointer = (self.worktree / ".git").read_text(encoding="utf-8")

    def _reusable(self) -> bool:
        pointer = self.worktree / ".git"
        if self._pointer is None or pointer.is_symlink() or not pointer.is_file():
            return False
        written = pointer.read_text(encoding="utf-8", errors="replace")
        return written == self._pointer and not nested_repositories(self.worktree)

    def halt(self, reason: str) -> None:
        """The head's run is over budget or stopped: the task's agent makes no further model call."""
        if self._rt is not None:
            self._rt.stop.set(reason)

    def _set_fatal(self, reason: str) -> None:
        self._fatal = self._fatal or reason

    def _runtime(self) -> tuple[Runtime, NodeJob]:
        if self._rt is None or self._job is None:
            raise RuntimeError("no task is open on this slot")
        return self._rt, self._job

    async def session(self, conflict: str) -> SessionEnd:
        """One agent session on the task (a first try, or a round resolving `conflict`)."""
        rt, job = self._runtime()
        outcome = await worker_session(rt, job.agent, job.task, self.worktree, conflict)  # a local worker's
        return SessionEnd(outcome, self._fatal, tuple(self.drain()), self.notes_chars())

    def drain(self) -> list[Event]:
        """The events recorded since the last call (the head re-records them in its log)."""
        events = list(self._events)
        del self._events[: len(events)]
        return events

    def markers(self, files: tuple[str, ...]) -> tuple[str, ...]:
        return with_markers(self.worktree, files)

    def notes_chars(self) -> int:
        return notes_size(self.worktree)

    def resume(self, previous: KeptCommit) -> Opening:
        """Continue kept attempt `previous` (already in the mirror) in the task's fresh worktree."""
        rt, job = self._runtime()
        return continue_attempt(rt, job.task, job.agent, self.worktree, previous)

    def commit(self, message: str, merge_head: str | None) -> NodeCommit:
        """Commit the worktree; the branch's new commits as a bundle (none when nothing is new)."""
        rt, job = self._runtime()
        message = rt.redact(message)  # the node knows its own keys; none may reach the history
        identity = agent_identity(job.agent)
        try:
            made = self.repo.commit_all(self.worktree, message, identity, HARNESS, merge_head)
        except UnsafeWorktreeError as exc:  # the head gives the task back with the reason
            return NodeCommit(refused=str(exc))
        head = made or self.repo.rev_parse(SLOT_BRANCH)
        data = b"" if head is None else create_bundle(self.repo.root, head, self._bases)
        return NodeCommit(Shipment(head, data) if head and data else None)  # empty: the head holds it

    def keep(self, snap: Snapshot) -> NodeCommit:
        """Keep the worktree's whole state as `snap` says (`git.attempt`): the bundle that brings the kept
        commit to the head, which stores it; none when there is nothing to keep."""
        rt, _ = self._runtime()
        root = self.repo.root
        set_ref(root, f"refs/heads/{snap.branch}", self._bases[-1])  # the shared branch as shipped here
        delete_ref(root, snap.ref)  # a ref an earlier run left in this slot's clone is not this attempt
        try:
            sha = self.repo.attempts().keep(self.worktree, snap)
            if sha is None:
                return NodeCommit()
            data = create_bundle(root, sha, self._bases)
        except (ShipyardError, OSError) as exc:
            return NodeCommit(refused=rt.redact(str(exc)))
        finally:
            delete_ref(root, snap.ref)
        return NodeCommit(Shipment(sha, data) if data else None)

    def merge(self, tip: str) -> tuple[str, ...]:
        """Merge the head's new tip (already in the mirror) into the worktree: the conflicted files."""
        self._bases.append(tip)
        return self.repo.start_merge(self.worktree, tip)

    def close(self) -> None:
        """End the task (its files stay until the next task resets them)."""
        self._rt, self._job = None, None

    def release(self) -> None:
        """Give the slot's folder up (the next slot started on this node removes it)."""
        self._release()


def sweep_slots(slots: Path) -> int:
    """Remove the folders of slots whose process is gone (nobody holds their lock); how many."""
    removed = 0
    for lock_path in slots.glob("*.lock"):
        with open(lock_path, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live slot
            shutil.rmtree(slots / lock_path.stem, ignore_errors=True)
            lock_path.unlink(missing_ok=True)
            removed += 1
    return removed
