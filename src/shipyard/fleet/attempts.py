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
import traceback
from dataclasses import dataclass
from pathlib import Path

from shipyard.config import ATTEMPT_ENDINGS
from shipyard.domain import Event, Handoff, Task, TaskSpec, TaskStatus
from shipyard.errors import ShipyardError
from shipyard.fleet.runtime import HARNESS, Runtime
from shipyard.git.attempt import Snapshot, attempt_ref

# How an attempt ended, as the retry policy sees it (`[attempts] continue_after`):
# limit (step, token or time limit), error (the model failed after its retries), no_progress (the agent
# repeated itself), stalled (silent for `stall_s`), stopped (the run stopped meanwhile), cancelled,
# crashed (the worker raised), interrupted (the orchestrator died; kept on recovery), conflict (merge
# conflicts not resolved in its rounds), no_merge (nothing to merge, or merging kept failing), failed.
ENDINGS = ATTEMPT_ENDINGS
_LIMITS = {"max_steps", "wall_time", "max_tokens"}
_NOTE = re.compile(r"^(?:attempt \d+ released by [^:]+|failed): (.*)$", re.DOTALL)
_LEFTOVER = re.compile(r"-task-(\d+)$")


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
    handoff = rt.board.get(task.id).handoff if ending.kind in _HANDOFF_KINDS else None
    text = rt.redact(message(task, task.attempts, agent, ending, handoff))
    ref = attempt_ref(task.id, task.attempts)
    try:
        sha = rt.repo.attempts().keep(worktree, Snapshot(ref, text, HARNESS, rt.config.branch))
    except (ShipyardError, OSError) as exc:
        rt.record(
            Event("AttemptNotKept", {"attempt": task.attempts, "error": rt.redact(str(exc))}, task.id, agent)
        )
        return None
    if sha is not None:
        data = {
            "attempt": task.attempts,
            "ref": ref,
            "sha": sha,
            "ended": ending.kind,
            "reason": rt.redact(ending.reason),
        }
        rt.record(Event("AttemptKept", data, task.id, agent))
    return sha


# Endings whose reason came from the board together with this attempt's handoff.
_HANDOFF_KINDS = frozenset({"limit", "error", "no_progress", "conflict", "no_merge", "failed"})


async def keep_after(
    rt: Runtime, task: Task, agent: str, worktree: Path, error: BaseException | None
) -> None:
    """The worker's last step before its worktree goes: keep the attempt unless it landed."""
    try:
        ending = ending_of(rt, task.id, error)
    except ShipyardError:
        ending = Ending("failed", "the board could not say how the attempt ended")
    if ending is not None:
        await asyncio.to_thread(keep, rt, task, agent, worktree, ending)


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
