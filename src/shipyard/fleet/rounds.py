"""A worker's rounds on one task, written once for every place its work happens (a `Workplace`): a
worktree in this process (`fleet.worker`) or a slot on a cluster node (`cluster.remote`).

A round is one agent session; then conflict markers left, NOTES.md over its budget, or the commit and
its merge (a conflict starts the next round with the shared branch merged in). The task ends merged
(done, in the board transaction that moves the branch), given back to the board, or failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from shipyard.agent import AgentOutcome, StopReason
from shipyard.agent.paths import read_inside
from shipyard.domain import Event, Handoff, Role, Task
from shipyard.fleet.attempts import Opening, previous_to_continue
from shipyard.fleet.briefing import NOTES_BUDGET_CHARS, read_notes, task_brief
from shipyard.fleet.merger import REFUSED, Merger
from shipyard.fleet.runtime import Runtime
from shipyard.fleet.session import Session, run_session
from shipyard.git.attempt import KeptCommit, Snapshot

T = TypeVar("T")
_MARKER_SCAN_BYTES = 4_000_000
_NOTES_LONG = "NOTES.md IS TOO LONG: your change makes it"


@dataclass(frozen=True)
class Commit:
    """What committing the worktree gave: the commit to land, or why there is none."""

    sha: str | None = None  # in the head's repository; None: nothing new to land
    refused: str = ""  # why the worktree may not be committed (e.g. a nested repository)
    stale: bool = False  # the board gives the task to another worker now: the result is dropped


class Workplace(Protocol):
    """Where one worker's task is worked on: its worktree, here or on a node. The merge stays here."""

    async def session(self, conflict: str) -> AgentOutcome:
        """One agent session on the task: a first try, or a round that must hear `conflict`."""
        ...

    async def markers(self, files: tuple[str, ...]) -> tuple[str, ...]:
        """The files among `files` that still hold conflict markers."""
        ...

    async def notes_chars(self) -> int:
        """The size of NOTES.md in the worktree now, in characters (0 when missing)."""
        ...

    async def continue_from(self, previous: KeptCommit) -> Opening:
        """Bring kept attempt `previous` into the fresh worktree (`attempts.continue_attempt`)."""
        ...

    async def commit(self, message: str, merge_head: str | None) -> Commit:
        """Commit the worktree (ending the merge of `merge_head` when one is pending)."""
        ...

    async def merge_latest(self) -> tuple[tuple[str, ...], str]:
        """Merge the shared branch's tip into the worktree: the files in conflict, and that tip."""
        ...

    async def keep(self, snap: Snapshot) -> str | None:
        """Keep the worktree's whole state on `snap.ref` of the run's repository (`attempts.Keeper`)."""
        ...


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


def worker_variables(rt: Runtime, task: Task, worktree: Path, conflict: str) -> dict[str, str]:
    """The worker prompt's variables (the same wherever the worker runs)."""
    return {
        **task_brief(task),
        "check_command": rt.config.check or "(none configured)",
        "notes": read_notes(worktree),
        "notes_budget": str(NOTES_BUDGET_CHARS),
        "conflict": conflict,
    }


async def worker_session(rt: Runtime, agent: str, task: Task, worktree: Path, conflict: str) -> AgentOutcome:
    """One worker session in `worktree`."""
    variables = worker_variables(rt, task, worktree, conflict)
    return await run_session(rt, Session(Role.WORKER, agent, worktree, variables, task.id))


def with_markers(worktree: Path, files: tuple[str, ...]) -> tuple[str, ...]:
    """The files among `files` that still hold conflict markers."""
    left = []
    for name in files:
        text = read_inside(worktree, name, _MARKER_SCAN_BYTES)
        lines = (text or "").splitlines()
        if any(line.startswith(("<<<<<<< ", ">>>>>>> ")) or line == "=======" for line in lines):
            left.append(name)
    return tuple(left)


async def work_rounds(rt: Runtime, merger: Merger, place: Workplace, agent: str, task: Task) -> None:
    """Carry a claimed task, in its fresh worktree at the shared branch's tip, to its end."""
    notes_chars = await place.notes_chars()  # the tip's, before a kept attempt is brought in
    opening = Opening()  # a first attempt has nothing to continue: no thread hop, no git call
    if task.attempts > 1:
        previous = await asyncio.to_thread(previous_to_continue, rt, task)
        if previous is not None:
            opening = await place.continue_from(previous)
    await _Rounds(rt, merger, place, agent, task, notes_chars).run(opening)


class _Rounds:
    def __init__(
        self, rt: Runtime, merger: Merger, place: Workplace, agent: str, task: Task, notes_chars: int
    ) -> None:
        self.rt, self.merger, self.place = rt, merger, place
        self.agent, self.task = agent, task
        self.notes_chars = notes_chars  # NOTES.md's size when the worktree was made
        self.merge_head: str | None = None  # the tip a conflict round merged in, until committed

    async def run(self, opening: Opening) -> None:
        rt, place = self.rt, self.place
        files: tuple[str, ...] = opening.conflicts  # a continued attempt may start with conflicts
        conflict, rounds = opening.text, rt.config.fleet.max_conflict_rounds
        for _ in range(rounds + 1):
            outcome = await place.session(conflict)
            handoff = handoff_of(outcome)
            if outcome.stop_reason is not StopReason.FINISHED:
                self._give_back(f"agent stopped: {outcome.stop_reason.value}", handoff)
                return
            unresolved = await place.markers(files) if files else ()
            if unresolved:
                files, conflict = unresolved, _conflict_text(rt, unresolved, still=True)
                continue
            conflict = await self._notes_over_budget()
            if conflict:
                continue
            files = await _uninterrupted(self._commit_and_land(handoff))
            if not files:
                return
            conflict = _conflict_text(rt, files)
        what = (
            "NOTES.md over its budget" if conflict.startswith(_NOTES_LONG) else "merge conflicts not resolved"
        )
        reason = f"{what} after {rounds} rounds: {conflict.splitlines()[0]}"
        rt.board.fail(self.task.id, reason, handoff)

    async def _notes_over_budget(self) -> str:
        """What the worker must hear when its change made NOTES.md longer than the budget ("" when not)."""
        size = await self.place.notes_chars()
        if size <= NOTES_BUDGET_CHARS or size <= self.notes_chars:
            return ""
        data = {"chars": size, "budget": NOTES_BUDGET_CHARS}
        self.rt.record(Event("NotesOverBudget", data, self.task.id, self.agent))
        return (
            f"{_NOTES_LONG} {size} characters, over the budget of {NOTES_BUDGET_CHARS}. Condense it (merge "
            "entries, drop what is stale or obvious from the code) to fit the budget, then call finish again."
        )

    async def _commit_and_land(self, handoff: Handoff) -> tuple[str, ...]:
        """Commit the worktree and merge it: the files in conflict for the next round, () when the task's
        attempt ended (merged, refused, given back)."""
        task = self.task
        summary = self.rt.redact(handoff.summary)  # commit messages outlive the run: no secret in history
        message = f"{task.title}\n\n{summary}\n\nShipyard-Task: #{task.id}\n"
        head = await self._commit(message, handoff)
        for _ in range(3):
            if head is None:
                return ()
            result = await self.merger.land(task, self.agent, head, handoff)
            if result.merged and result.sha is not None:
                return ()  # the merger ended the task with the merge
            if result is REFUSED:
                return ()  # the task was cancelled (or lost its lease): it ends here, unmerged
            files, tip = await self.place.merge_latest()
            if files:
                self.merge_head = tip
                return files
            head = await self._commit(message, handoff)
        self._give_back("merge kept failing without conflicts", handoff)
        return ()

    async def _commit(self, message: str, handoff: Handoff) -> str | None:
        """The commit to land; None when there is none (the task went back, or is no longer ours)."""
        made = await self.place.commit(message, self.merge_head)
        self.merge_head = None
        if made.refused:  # e.g. a nested repository: refused, and the handoff says why
            said = replace(handoff, concerns=f"{handoff.concerns}\nNot committed: {made.refused}".strip())
            self._give_back(f"not committed: {made.refused}", said)
        elif made.sha is None and not made.stale:
            self._give_back("finished without changes to merge", handoff)
        return made.sha

    def _give_back(self, reason: str, handoff: Handoff) -> None:
        max_attempts = self.rt.config.fleet.max_attempts
        self.rt.board.release(self.task.id, self.agent, reason, max_attempts, handoff)


async def _uninterrupted(coro: Coroutine[Any, Any, T]) -> T:
    """Finish a short critical step (commit, merge, record) even if the agent is cancelled meanwhile,
    so a merge never reaches the shared branch without reaching the board."""
    step = asyncio.ensure_future(coro)
    try:
        return await asyncio.shield(step)
    except asyncio.CancelledError:
        await step
        raise


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
