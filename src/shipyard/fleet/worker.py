"""A worker on one task: its own worktree and branch, the agent, the commit, the merge, conflicts."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from shipyard.agent import AgentOutcome, StopReason
from shipyard.agent.paths import read_inside
from shipyard.domain import Event, Handoff, Role, Task
from shipyard.errors import BoardError, UnsafeWorktreeError
from shipyard.fleet.attempts import Opening, keep_after, open_attempt
from shipyard.fleet.briefing import NOTES_BUDGET_CHARS, notes_size, read_notes, task_brief
from shipyard.fleet.merger import REFUSED, Merger
from shipyard.fleet.runtime import HARNESS, Runtime, agent_identity
from shipyard.fleet.session import Session, run_session

T = TypeVar("T")
_MARKER_SCAN_BYTES = 4_000_000
_NOTES_LONG = "NOTES.md IS TOO LONG: your change makes it"


@dataclass
class Seat:
    """A worker on a task, in a worktree on its own branch (and the merge the harness started there)."""

    agent: str
    task: Task
    worktree: Path
    branch: str
    start: str  # the shared branch's tip the worktree was made from
    merge_head: str | None = None
    notes_chars: int = 0  # NOTES.md's size when the worktree was made


def handoff_of(outcome: AgentOutcome) -> Handoff:
    """The worker's handoff, or one that says why the agent stopped."""
    if outcome.finish is not None:
        return Handoff(
            summary=str(outcome.finish.get("summary", "")),
            concerns=str(outcome.finish.get("concerns", "")),
            deviations=str(outcome.finish.get("deviations", "")),
        )
    detail = f": {outcome.error}" if outcome.error else ""
    return Handoff(summary=f"stopped before finishing ({outcome.stop_reason.value}{detail})")


async def work_on(rt: Runtime, merger: Merger, agent: str, task: Task) -> None:
    """Carry one claimed task to its end: merged (done), returned to the board, or failed."""
    name = f"{agent}-task-{task.id}"
    tip = merger.tip or await asyncio.to_thread(rt.repo.rev_parse, rt.config.branch)
    seat = Seat(agent, task, rt.worktree_path(name), f"shipyard/{name}", tip or rt.config.branch)
    spot = rt.parking_spot(agent)
    beat = asyncio.get_running_loop().create_task(_heartbeat(rt, seat))
    try:
        await asyncio.to_thread(rt.repo.add_worktree, seat.worktree, seat.branch, seat.start, spot)
        seat.notes_chars = notes_size(seat.worktree)  # the tip's, before a kept attempt is brought in
        opening = Opening()  # a first attempt has nothing to continue: no thread hop, no git call
        if task.attempts > 1:
            opening = await asyncio.to_thread(open_attempt, rt, task, agent, seat.worktree)
        await _attempt(rt, merger, seat, opening)
    finally:
        merger.release(task.id)  # whatever files it held for a conflict pass on
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        await keep_after(rt, task, agent, seat.worktree, sys.exc_info()[1])  # unless it landed
        await asyncio.to_thread(rt.repo.remove_worktree, seat.worktree, seat.branch, spot)


async def _heartbeat(rt: Runtime, seat: Seat) -> None:
    """Renew the lease until the task ends; once it is lost (cancelled, expired) the scheduler stops the
    agent and the merge is refused, so there is nothing more to renew."""
    lease_s = rt.config.fleet.lease_s
    while True:
        await asyncio.sleep(lease_s / 3)
        try:
            rt.board.heartbeat(seat.task.id, seat.agent, lease_s)
        except BoardError:
            return


def _variables(rt: Runtime, seat: Seat, conflict: str) -> dict[str, str]:
    return {
        **task_brief(seat.task),
        "check_command": rt.config.check or "(none configured)",
        "notes": read_notes(seat.worktree),
        "notes_budget": str(NOTES_BUDGET_CHARS),
        "conflict": conflict,
    }


async def _attempt(rt: Runtime, merger: Merger, seat: Seat, opening: Opening) -> None:
    files: tuple[str, ...] = opening.conflicts  # a continued attempt may start with conflicts to resolve
    conflict, rounds = opening.text, rt.config.fleet.max_conflict_rounds
    for _ in range(rounds + 1):
        session = Session(
            Role.WORKER, seat.agent, seat.worktree, _variables(rt, seat, conflict), seat.task.id
        )
        outcome = await run_session(rt, session)
        handoff = handoff_of(outcome)
        if outcome.stop_reason is not StopReason.FINISHED:
            _give_back(rt, seat, f"agent stopped: {outcome.stop_reason.value}", handoff)
            return
        unresolved = _with_markers(seat.worktree, files)
        if unresolved:
            files, conflict = unresolved, _conflict_text(rt, unresolved, still=True)
            continue
        conflict = _notes_over_budget(rt, seat)
        if conflict:
            continue
        landed, files = await _uninterrupted(_commit_and_land(rt, merger, seat, handoff))
        if landed or not files:
            return
        conflict = _conflict_text(rt, files)
    what = "NOTES.md over its budget" if conflict.startswith(_NOTES_LONG) else "merge conflicts not resolved"
    reason = f"{what} after {rounds} rounds: {conflict.splitlines()[0]}"
    rt.board.fail(seat.task.id, reason, handoff)


def _notes_over_budget(rt: Runtime, seat: Seat) -> str:
    """What the worker must hear when its change made NOTES.md longer than the budget ("" when not)."""
    size = notes_size(seat.worktree)
    if size <= NOTES_BUDGET_CHARS or size <= seat.notes_chars:
        return ""
    data = {"chars": size, "budget": NOTES_BUDGET_CHARS}
    rt.record(Event("NotesOverBudget", data, seat.task.id, seat.agent))
    return (
        f"{_NOTES_LONG} {size} characters, over the budget of {NOTES_BUDGET_CHARS}. Condense it (merge "
        "entries, drop what is stale or obvious from the code) to fit the budget, then call finish again."
    )


async def _uninterrupted(coro: Coroutine[Any, Any, T]) -> T:
    """Finish a short critical step (commit, merge, record) even if the agent is cancelled meanwhile,
    so a merge never reaches the shared branch without reaching the board."""
    step = asyncio.ensure_future(coro)
    try:
        return await asyncio.shield(step)
    except asyncio.CancelledError:
        await step
        raise


def _give_back(rt: Runtime, seat: Seat, reason: str, handoff: Handoff) -> None:
    rt.board.release(seat.task.id, seat.agent, reason, rt.config.fleet.max_attempts, handoff)


def _with_markers(worktree: Path, files: tuple[str, ...]) -> tuple[str, ...]:
    """The files among `files` that still hold conflict markers."""
    left = []
    for name in files:
        text = read_inside(worktree, name, _MARKER_SCAN_BYTES)
        lines = (text or "").splitlines()
        if any(line.startswith(("<<<<<<< ", ">>>>>>> ")) or line == "=======" for line in lines):
            left.append(name)
    return tuple(left)


async def _commit_and_land(
    rt: Runtime, merger: Merger, seat: Seat, handoff: Handoff
) -> tuple[bool, tuple[str, ...]]:
    """Commit the worktree and merge it; returns (landed, files in conflict for the next round)."""
    summary = rt.redact(handoff.summary)  # commit messages outlive the run: no secret goes into history
    repo, message = rt.repo, f"{seat.task.title}\n\n{summary}\n\nShipyard-Task: #{seat.task.id}\n"
    identity = agent_identity(seat.agent)
    try:
        made = await asyncio.to_thread(
            repo.commit_all, seat.worktree, message, identity, HARNESS, seat.merge_head
        )
    except UnsafeWorktreeError as exc:  # e.g. a nested repository: refused, and the handoff says why
        said = replace(handoff, concerns=f"{handoff.concerns}\nNot committed: {exc}".strip())
        _give_back(rt, seat, f"not committed: {exc}", said)
        return False, ()
    seat.merge_head = None
    head = made or await asyncio.to_thread(_unmerged_head, rt, seat)
    if head is None:
        _give_back(rt, seat, "finished without changes to merge", handoff)
        return False, ()
    for _ in range(3):
        result = await merger.land(seat.task, seat.agent, head, handoff)
        if result.merged and result.sha is not None:
            return True, ()  # the merger ended the task with the merge
        if result is REFUSED:
            return True, ()  # the task was cancelled (or lost its lease): it ends here, unmerged
        files, tip = await asyncio.to_thread(_merge_latest, rt, seat)
        seat.merge_head = tip if files else None
        if files:
            return False, files
        head = await asyncio.to_thread(repo.rev_parse, seat.branch) or head
    _give_back(rt, seat, "merge kept failing without conflicts", handoff)
    return False, ()


def _unmerged_head(rt: Runtime, seat: Seat) -> str | None:
    """The branch's tip when nothing new was committed: None unless it holds work the shared branch lacks
    (a fresh commit needs no such check: it cannot be on the shared branch yet)."""
    head = rt.repo.rev_parse(seat.branch)
    if head is None or head == seat.start or rt.repo.contains(rt.config.branch, head):
        return None
    return head


def _merge_latest(rt: Runtime, seat: Seat) -> tuple[tuple[str, ...], str]:
    """Merge the shared branch's tip into the seat's worktree: the conflicted files and that tip."""
    tip = rt.repo.rev_parse(rt.config.branch) or rt.config.branch
    return rt.repo.start_merge(seat.worktree, tip), tip


def _conflict_text(rt: Runtime, files: tuple[str, ...], still: bool = False) -> str:
    names = ", ".join(files)
    if still:
        return (
            f"MERGE CONFLICT: conflict markers are still in {names}. Resolve every conflict "
            "(no <<<<<<<, ======= or >>>>>>> lines may remain), run the check, then call finish again."
        )
    return (
        f"MERGE CONFLICT: your change conflicts with work that landed on `{rt.config.branch}` in: {names}. "
        f"The latest `{rt.config.branch}` is merged into your worktree with conflict markers in those files. "
        "Resolve every conflict keeping both sides' intent, run the check, then call finish again."
    )
