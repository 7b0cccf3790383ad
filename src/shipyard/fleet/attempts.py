"""Nothing a worker did is thrown away: an attempt that did not land is kept before its worktree goes.

Each kept attempt is a commit on `refs/shipyard/attempts/<task>/<n>` (see `shipyard.git.attempt`) whose
message names the task, the attempt, how it ended (a kind the retry policy reads, and the reason) and
the agent's handoff, redacted like every commit message. `AttemptKept` records it in the event log.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from shipyard.board.base import Board
from shipyard.config import ATTEMPT_ENDINGS
from shipyard.domain import Event, Handoff, Task, TaskSpec, TaskStatus
from shipyard.errors import ShipyardError
from shipyard.fleet.runtime import HARNESS, Runtime
from shipyard.git import GitRepo
from shipyard.git.attempt import KeptCommit, Snapshot, attempt_ref

# How an attempt ended, as the retry policy sees it (`[attempts] continue_after`):
# limit (step, token or time limit), error (the model failed after its retries), no_progress (the agent
# repeated itself), stalled (silent for `stall_s`), stopped (the run stopped meanwhile), cancelled,
# crashed (the worker raised), interrupted (the orchestrator died; kept on recovery), conflict (merge
# conflicts not resolved in its rounds), no_merge (nothing to merge, or merging kept failing), failed.
ENDINGS = ATTEMPT_ENDINGS
_LIMITS = {"max_steps", "wall_time", "max_tokens"}
_NOTE = re.compile(r"^(?:attempt \d+ released by [^:]+|failed): (.*)$", re.DOTALL)
_LEFTOVER = re.compile(r"-task-(\d+)$")
# Keeps a worktree's whole state on `snap.ref` of the run's repository: its commit (None: nothing to keep).
Keeper = Callable[[Snapshot], Awaitable[str | None]]


@dataclass(frozen=True)
class Ending:
    """How an attempt ended: a kind from `ENDINGS` and the reason in words."""

    kind: str
    reason: str


def spec_digest(spec: TaskSpec) -> str:
    """A short digest of what the task asks: a retry continues only the same task, never a rewritten one."""
    text = json.dumps([spec.title, spec.description, spec.acceptance, list(spec.scope)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ending_of(rt: Runtime, task_id: int, error: BaseException | None) -> Ending | None:
    """How the attempt on `task_id` ended, from the error that ended it or the board; None if it landed."""
    if isinstance(error, asyncio.CancelledError):
        why = rt.cancel_reasons.get(task_id, "")
        if why.startswith("stalled"):
            return Ending("stalled", why)
        if rt.stop.is_set:
            return Ending("stopped", f"the run stopped: {rt.stop.reason}")
        return Ending("cancelled", why or "cancelled")
    if error is not None:
        detail = "".join(traceback.format_exception_only(error)).strip().splitlines()
        return Ending("crashed", f"crashed: {detail[-1] if detail else type(error).__name__}")
    task = rt.board.get(task_id)
    if task.status is TaskStatus.DONE:
        return None
    if task.status is TaskStatus.CANCELLED:
        return Ending("cancelled", task.notes[-1] if task.notes else "cancelled")
    match = _NOTE.match(task.notes[-1]) if task.notes else None
    reason = match.group(1) if match else (task.notes[-1] if task.notes else task.status.value)
    kind = _kind(reason)
    if kind == "error" and rt.stop.is_set:  # the run's stop reaches the agent as a refused model call
        return Ending("stopped", f"the run stopped: {rt.stop.reason}")
    return Ending(kind, reason)


def _kind(reason: str) -> str:
    if reason.startswith("agent stopped: "):
        stop = reason.removeprefix("agent stopped: ").split()[0]
        return "limit" if stop in _LIMITS else "error" if stop == "model_error" else stop
    if reason.startswith("merge conflicts"):
        return "conflict"
    if reason.startswith(("finished without changes", "merge kept failing")):
        return "no_merge"
    return "failed"


def message(task: Task, attempt: int, agent: str, ending: Ending, handoff: Handoff | None) -> str:
    """The kept commit's message: what, how it ended, the handoff, then `Shipyard-*` trailers."""
    said = ""
    if handoff is not None:
        said = (
            f"Handoff: {handoff.summary}\nConcerns: {handoff.concerns}\nDeviations: {handoff.deviations}\n\n"
        )
    reason = " ".join(ending.reason.split())[:500]
    return (
        f"Shipyard attempt {attempt} of task #{task.id}: {task.title}\n\n"
        f"Ended: {reason}\n\n{said}"
        f"Shipyard-Attempt: {task.id}/{attempt}\nShipyard-Ended: {ending.kind}\n"
        f"Shipyard-Reason: {reason}\nShipyard-Agent: {agent}\nShipyard-Spec: {spec_digest(task.spec)}\n"
    )


def keep(rt: Runtime, task: Task, agent: str, worktree: Path, ending: Ending) -> str | None:
    """Keep the worktree's state as attempt `task.attempts` of `task`; logs `AttemptKept`. A failure to
    keep is logged (`AttemptNotKept`) and never stops the cleanup that follows."""
    if not rt.config.attempts.keep:
        return None
    try:
        snap = _snapshot(rt, task, agent, ending)
        sha = rt.repo.attempts().keep(worktree, snap)
    except (ShipyardError, OSError) as exc:
        _not_kept(rt, task, agent, exc)
        return None
    return _kept(rt, task, agent, ending, sha)


async def keep_with(rt: Runtime, task: Task, agent: str, keeper: Keeper, ending: Ending) -> str | None:
    """`keep`, where `keeper` keeps the worktree's state (in this process, or on a cluster node)."""
    if not rt.config.attempts.keep:
        return None
    try:
        sha = await keeper(_snapshot(rt, task, agent, ending))
    except (ShipyardError, OSError) as exc:
        _not_kept(rt, task, agent, exc)
        return None
    return _kept(rt, task, agent, ending, sha)


def worktree_keeper(rt: Runtime, worktree: Path) -> Keeper:
    """Keeps a worktree of the run's repository (the local worker's)."""

    async def keeper(snap: Snapshot) -> str | None:
        return await asyncio.to_thread(rt.repo.attempts().keep, worktree, snap)

    return keeper


def _snapshot(rt: Runtime, task: Task, agent: str, ending: Ending) -> Snapshot:
    handoff = rt.board.get(task.id).handoff if ending.kind in _HANDOFF_KINDS else None
    text = rt.redact(message(task, task.attempts, agent, ending, handoff))
    return Snapshot(attempt_ref(task.id, task.attempts), text, HARNESS, rt.config.branch)


def _kept(rt: Runtime, task: Task, agent: str, ending: Ending, sha: str | None) -> str | None:
    if sha is not None:
        reason = rt.redact(ending.reason)
        ref = attempt_ref(task.id, task.attempts)
        data = {"attempt": task.attempts, "ref": ref, "sha": sha, "ended": ending.kind, "reason": reason}
        rt.record(Event("AttemptKept", data, task.id, agent))
    return sha


def _not_kept(rt: Runtime, task: Task, agent: str, exc: Exception) -> None:
    data = {"attempt": task.attempts, "error": rt.redact(str(exc))}
    rt.record(Event("AttemptNotKept", data, task.id, agent))


# Endings whose reason came from the board together with this attempt's handoff.
_HANDOFF_KINDS = frozenset({"limit", "error", "no_progress", "conflict", "no_merge", "failed"})


# A released task may be claimed again while its last worker is still keeping its attempt: the new
# attempt waits for that (the old worker registers as its cleanup starts, before a new attempt can have
# made its worktree and looked for kept attempts).
_keeping: dict[tuple[int, int], threading.Event] = {}  # (id of the runtime, task id) -> set when kept
_keeping_guard = threading.Lock()
KEEP_WAIT_S = 120.0


async def keep_after(
    rt: Runtime, task: Task, agent: str, keeper: Keeper, error: BaseException | None
) -> None:
    """The worker's last step before its worktree goes: keep the attempt unless it landed."""
    done = threading.Event()
    with _keeping_guard:
        _keeping[(id(rt), task.id)] = done
    try:
        try:
            ending = ending_of(rt, task.id, error)
        except ShipyardError:
            ending = Ending("failed", "the board could not say how the attempt ended")
        if ending is not None:
            await keep_with(rt, task, agent, keeper, ending)
    finally:
        done.set()
        with _keeping_guard:
            if _keeping.get((id(rt), task.id)) is done:
                del _keeping[(id(rt), task.id)]


def _wait_for_keeping(rt: Runtime, task_id: int) -> None:
    with _keeping_guard:
        pending = _keeping.get((id(rt), task_id))
    if pending is not None:
        pending.wait(KEEP_WAIT_S)


def keep_leftover(rt: Runtime, path: Path) -> str | None:
    """Keep what a worker's worktree left by a crash or kill holds, before recovery clears it."""
    found = _LEFTOVER.search(path.name)
    if found is None:
        return None  # a planner's or the judge's read-only snapshot
    try:
        task = rt.board.get(int(found.group(1)))
    except ShipyardError:
        return None
    if task.status is TaskStatus.DONE:
        return None  # it landed before the crash: the work is on the shared branch
    agent = path.name[: found.start()]
    reason = "cut short by a crash or kill of the orchestrator; kept on recovery"
    return keep(rt, task, agent, path, Ending("interrupted", reason))


def set_aside_earlier_runs(repo: GitRepo, board: Board) -> int:
    """A new run (an empty event log) numbers its tasks from 1 again: the kept attempts of earlier runs
    move to `refs/shipyard/archive/run-<time>/`, never mistaken for this run's (nor deleted)."""
    if board.events(limit=1):
        return 0
    return repo.attempts().archive(f"run-{time.strftime('%Y%m%d-%H%M%S')}")


@dataclass
class AttemptLog:
    """What the event log says of one attempt: its worker's tokens and cost, the commit it landed as
    (None if it did not), and why it ended."""

    tokens: int = 0
    cost_usd: float = 0.0
    landed: str | None = None
    reason: str = ""


_ENDED_KINDS = {"TaskReleased", "TaskFailed", "TaskCancelled", "LeaseExpired"}


def attempt_log(events: Iterable[Event]) -> dict[tuple[int, int], AttemptLog]:
    """Each (task, attempt) of the log; events count toward the attempt its task's latest `TaskClaimed`
    started (a worker's model calls for tokens and cost)."""
    current: dict[int, int] = {}
    log: dict[tuple[int, int], AttemptLog] = {}
    for e in events:
        if e.task_id is None:
            continue
        if e.kind == "TaskClaimed":
            current[e.task_id] = int(e.data.get("attempt", 0))
            log[(e.task_id, current[e.task_id])] = AttemptLog()
            continue
        entry = log.get((e.task_id, current.get(e.task_id, 0)))
        if entry is None:
            continue
        if e.kind == "ModelCalled" and e.data.get("role") == "worker":
            entry.tokens += int(e.data.get("input_tokens", 0)) + int(e.data.get("output_tokens", 0))
            entry.cost_usd += float(e.data.get("cost_usd", 0.0))
        elif e.kind == "TaskCompleted":
            entry.landed = next(iter(e.data.get("commits", [])), None)
        elif e.kind in _ENDED_KINDS and not entry.reason:
            entry.reason = str(e.data.get("reason", "")) or e.kind
    return log


@dataclass(frozen=True)
class Opening:
    """How a new attempt starts: words for its prompt, and files left with conflict markers."""

    text: str = ""
    conflicts: tuple[str, ...] = ()


_SHOWN_FILES = 30
_HANDOFF = re.compile(r"\n\nHandoff: (.*?)\n\nShipyard-Attempt:", re.DOTALL)


def previous_to_continue(rt: Runtime, task: Task) -> KeptCommit | None:
    """The newest kept attempt of `task` that the policy says to continue: it ended in a way listed in
    `[attempts] continue_after` and the task still asks the same (the planner did not rewrite it)."""
    if task.attempts <= 1:
        return None  # a first attempt (spares a git call for most tasks)
    _wait_for_keeping(rt, task.id)
    earlier = [k for k in rt.repo.attempts().kept(task.id) if k.attempt < task.attempts]
    if not earlier:
        return None
    last = earlier[-1]
    same_task = last.trailers.get("Spec") == spec_digest(task.spec)
    return last if same_task and last.trailers.get("Ended") in rt.config.attempts.continue_after else None


def open_attempt(rt: Runtime, task: Task, agent: str, worktree: Path) -> Opening:
    """Start a new attempt from the last kept one when the policy says so (see `continue_attempt`)."""
    previous = previous_to_continue(rt, task)
    return Opening() if previous is None else continue_attempt(rt, task, agent, worktree, previous)


def continue_attempt(rt: Runtime, task: Task, agent: str, worktree: Path, previous: KeptCommit) -> Opening:
    """Bring kept attempt `previous` (a commit `rt.repo` holds) into a fresh worktree: its changes rebased
    onto the worktree's tip (the newest shared branch) and left uncommitted; logs `AttemptContinued`."""
    try:
        conflicts = rt.repo.attempts().continue_in(worktree, previous.sha)
    except ShipyardError as exc:
        data = {"from_attempt": previous.attempt, "error": rt.redact(str(exc))}
        rt.record(Event("AttemptNotContinued", data, task.id, agent))
        return Opening()
    files = rt.repo.changed_files(worktree)
    if not files:
        return Opening()  # all of it is on the shared branch already
    data = {
        "from_attempt": previous.attempt,
        "ref": previous.ref,
        "files": len(files),
        "conflicts": list(conflicts),
    }
    rt.record(Event("AttemptContinued", data, task.id, agent))
    return Opening(_opening_text(rt, previous, files, conflicts), conflicts)


def _opening_text(rt: Runtime, previous: KeptCommit, files: list[str], conflicts: tuple[str, ...]) -> str:
    shown = ", ".join(files[:_SHOWN_FILES]) + (
        f" and {len(files) - _SHOWN_FILES} more" if len(files) > _SHOWN_FILES else ""
    )
    said = _HANDOFF.search(previous.message)
    report = said.group(1).strip() if said else "nothing: it was cut short before it could report"
    text = (
        f"PREVIOUS ATTEMPT: attempt {previous.attempt} of this task ended without landing "
        f"({previous.trailers.get('Ended')}: {previous.trailers.get('Reason', '')}). Its work is already in "
        f"your worktree, brought onto the latest `{rt.config.branch}` and not committed: {shown}.\n"
        f"What it reported: {report}\n"
        "Continue from there: read what it changed and run the check; finish what is missing and fix what "
        "is wrong. Do not start over."
    )
    if conflicts:
        text += (
            f"\nMERGE CONFLICT: bringing it onto the latest `{rt.config.branch}` left conflict markers in "
            f"{', '.join(conflicts)}. Resolve every conflict keeping both sides' intent first."
        )
    return text
