"""A remote worker's rounds are a local worker's: the head's `RemoteRunner` driving real `NodeSlot`s
through a fake actor (no Ray). Results land only while the board gives the task to their worker, through
the merger's board gate; attempts that do not land are kept on the head; NOTES.md keeps its budget; a
worktree that may not be committed gives the task back with the reason."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from fakenode import FakePool, Program, head, run_attempt, start_attempt, steps, user_prompt
from ray.exceptions import RayActorError

from cli_helpers import git
from shipyard.board.sqlite import SqliteBoard
from shipyard.cluster.slots import Slot
from shipyard.domain import Event, Task, TaskStatus
from shipyard.fleet.briefing import NOTES_BUDGET_CHARS
from shipyard.models.base import ModelRequest, ModelResponse
from shipyard.models.scripted import call, turn


def _writes(path: str) -> Program:
    def program(req: ModelRequest) -> ModelResponse:
        if steps(req) == 0:
            return turn(call("write_file", path=path, content=f"{path} by {req.agent}\n"))
        return turn(call("finish", summary=f"wrote {path}"))

    return program


def _kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events]


def test_the_holders_commit_lands_through_the_merger(tmp_path: Path) -> None:
    rt = head(tmp_path)
    start = rt.repo.rev_parse("main")
    pool = FakePool(tmp_path / "nodes", _writes("a.txt"))
    try:
        runner = run_attempt(rt, pool, "worker-1")
    finally:
        pool.close()
    task = rt.board.get(1)
    assert task.status is TaskStatus.DONE and task.handoff is not None
    assert task.handoff.summary == "wrote a.txt"
    assert rt.repo.rev_parse("main") != start
    assert git(rt.repo.root, "show", "main:a.txt") == "a.txt by worker-1\n"
    assert _kinds(rt.board.events()).count("CommitMerged") == 1
    assert {way for way, _, _ in runner.transport_ms} == {"out", "back"}
    assert pool.released == ["n1"] and pool.lost_keys == []
    assert not rt.repo.branches_with_prefix("shipyard/"), "the head's branch for the result is gone"


def test_a_stale_attempts_commit_is_dropped_not_merged(tmp_path: Path) -> None:
    rt = head(tmp_path)
    start = rt.repo.rev_parse("main")

    def lease_runs_out_meanwhile(req: ModelRequest) -> ModelResponse:
        if steps(req) == 0:
            return turn(call("write_file", path="a.txt", content="a\n"))
        rt.board.release(1, "worker-1", "its lease ran out", 3)
        assert rt.board.claim("worker-2", rt.board.get(1).spec.kind, 600) is not None
        return turn(call("finish", summary="wrote a.txt"))

    pool = FakePool(tmp_path / "nodes", lease_runs_out_meanwhile)
    try:
        run_attempt(rt, pool, "worker-1")
    finally:
        pool.close()
    kinds = _kinds(rt.board.events())
    assert "ResultStale" in kinds and "CommitMerged" not in kinds
    assert rt.repo.rev_parse("main") == start
    assert rt.board.get(1).lease_holder == "worker-2", "the current attempt keeps the task"


def test_a_retry_on_another_node_continues_from_the_kept_attempt(tmp_path: Path) -> None:
    rt = head(tmp_path, limits={"max_steps": 3})

    def grind(req: ModelRequest) -> ModelResponse:
        if "PREVIOUS ATTEMPT: attempt 1" in user_prompt(req):
            return turn(call("finish", summary="finished what attempt 1 began"))
        if steps(req) == 0:  # a fresh attempt writes a file, then runs into its step limit
            return turn(call("write_file", path="a.txt", content=f"begun by {req.agent}\n"))
        return turn(call("list_dir", path="."))

    pool = FakePool(tmp_path / "nodes", grind, nodes=("n1", "n2"))
    try:
        run_attempt(rt, pool, "worker-1")
        first = rt.board.get(1)
        assert first.status is TaskStatus.OPEN and "max_steps" in first.notes[-1]
        (kept,) = rt.repo.attempts().kept(1)  # on the head, though the worktree was on node n1
        assert kept.attempt == 1 and kept.trailers["Ended"] == "limit"
        assert git(rt.repo.root, "show", f"{kept.sha}:a.txt") == "begun by worker-1\n"

        run_attempt(rt, pool, "worker-2")  # on node n2, which never saw attempt 1
    finally:
        pool.close()
    task = rt.board.get(1)
    assert task.status is TaskStatus.DONE, task.notes
    assert git(rt.repo.root, "show", "main:a.txt") == "begun by worker-1\n"
    continued = [e for e in rt.board.events() if e.kind == "AttemptContinued"]
    assert [(e.agent, e.data["from_attempt"], e.data["ref"]) for e in continued] == [
        ("worker-2", 1, kept.ref)
    ]


def test_a_remote_change_that_makes_notes_too_long_gets_another_round(tmp_path: Path) -> None:
    rt = head(tmp_path)
    told: list[str] = []

    def notes(req: ModelRequest) -> ModelResponse:
        if steps(req) > 0:
            return turn(call("finish", summary="kept notes"))
        prompt = user_prompt(req)
        if "NOTES.md IS TOO LONG" in prompt:
            told.append(prompt)
            return turn(call("write_file", path="NOTES.md", content="# Notes\n- condensed\n"))
        return turn(call("write_file", path="NOTES.md", content="# Notes\n" + "x" * NOTES_BUDGET_CHARS))

    pool = FakePool(tmp_path / "nodes", notes)
    try:
        run_attempt(rt, pool, "worker-1")
    finally:
        pool.close()
    assert len(told) == 1, "the worker heard of the budget once, in its next round"
    assert rt.board.get(1).status is TaskStatus.DONE
    assert git(rt.repo.root, "show", "main:NOTES.md") == "# Notes\n- condensed\n"
    (over,) = [e for e in rt.board.events() if e.kind == "NotesOverBudget"]
    assert over.data["chars"] > NOTES_BUDGET_CHARS


class _CancelledAfterALook(SqliteBoard):
    """The person cancels the task right after the head's last look at it before the merge."""

    armed = False

    def get(self, task_id: int) -> Task:
        task = super().get(task_id)
        if self.armed:
            self.armed = False
            self.cancel(task_id, "cancelled by the person")
        return task


def test_a_task_cancelled_while_its_remote_worker_commits_is_not_merged(tmp_path: Path) -> None:
    rt = head(tmp_path, board=_CancelledAfterALook)
    start = rt.repo.rev_parse("main")
    board = rt.board
    assert isinstance(board, _CancelledAfterALook)

    def finishes(req: ModelRequest) -> ModelResponse:
        if steps(req) == 0:
            return turn(call("write_file", path="a.txt", content="a\n"))
        board.armed = True  # from here on the head commits and lands: the person cancels meanwhile
        return turn(call("finish", summary="wrote a.txt"))

    pool = FakePool(tmp_path / "nodes", finishes)
    try:
        run_attempt(rt, pool, "worker-1")
    finally:
        pool.close()
    assert not board.armed, "the cancel happened"
    assert rt.board.get(1).status is TaskStatus.CANCELLED
    assert rt.repo.rev_parse("main") == start, "a cancelled task's commit never reaches the shared branch"
    kinds = _kinds(rt.board.events())
    assert "CommitMerged" not in kinds and "TaskCompleted" not in kinds and "MergeRefused" in kinds


def test_an_unsafe_worktree_on_a_node_gives_the_task_back_with_the_reason(tmp_path: Path) -> None:
    rt = head(tmp_path)
    pool: FakePool

    def nests(req: ModelRequest) -> ModelResponse:
        if steps(req) == 0:
            return turn(call("write_file", path="a.txt", content="a\n"))
        (pool.worktree / "vendor" / "lib").mkdir(parents=True)  # as a `git clone` by the agent leaves it
        (pool.worktree / "vendor" / "lib" / ".git").write_text("gitdir: /elsewhere\n")
        return turn(call("finish", summary="vendored lib"))

    pool = FakePool(tmp_path / "nodes", nests)
    try:
        run_attempt(rt, pool, "worker-1")  # no crash reaches the head
    finally:
        pool.close()
    task = rt.board.get(1)
    assert task.status is TaskStatus.OPEN and task.attempts == 1
    assert "not committed: the worktree holds a nested git repository (vendor/lib/.git)" in task.notes[-1]
    assert task.handoff is not None and "Not committed: the worktree holds" in task.handoff.concerns
    assert pool.released == ["n1"] and pool.lost_keys == [], "the slot goes back: it did not crash"
    kinds = _kinds(rt.board.events())
    assert "CommitMerged" not in kinds and "AttemptNotKept" in kinds


def test_a_remote_worker_cancelled_mid_session_keeps_its_attempt_before_its_actor_goes(
    tmp_path: Path,
) -> None:
    rt = head(tmp_path)
    cancel: list[Callable[[], None]] = []

    def cancelled(req: ModelRequest) -> ModelResponse:
        if steps(req) == 0:
            return turn(call("write_file", path="a.txt", content="half done\n"))
        if cancel:  # the person cancels the task: the scheduler cancels its worker
            cancel.pop()()
        return turn(call("list_dir", path="."))

    pool = FakePool(tmp_path / "nodes", cancelled)

    async def attempt() -> None:
        running = asyncio.ensure_future(start_attempt(rt, pool, "worker-1"))
        loop = asyncio.get_running_loop()
        cancel.append(lambda: loop.call_soon_threadsafe(running.cancel))
        with pytest.raises(asyncio.CancelledError):
            await running

    try:
        asyncio.run(attempt())
    finally:
        pool.close()
    (kept,) = rt.repo.attempts().kept(1)  # kept while the actor still answered
    assert kept.trailers["Ended"] == "cancelled"
    assert git(rt.repo.root, "show", f"{kept.sha}:a.txt") == "half done\n"
    assert pool.killed == ["n1"], "then its agent was stopped"


class _NoActorStarts(FakePool):
    """A cluster whose actors never start (e.g. its nodes lack Shipyard): each acquire fails."""

    async def acquire(self) -> Slot:
        self.failed_starts += 1
        raise RayActorError()


def test_slots_that_never_start_stop_the_run_with_one_line(tmp_path: Path) -> None:
    rt = head(tmp_path)
    pool = _NoActorStarts(tmp_path / "nodes", _writes("a.txt"))
    for n in range(1, 4):
        run_attempt(rt, pool, f"worker-{n}")  # each attempt gives its task back: the actor never started
        assert rt.stop.is_set == (n == 3), "one failed start is a fault; three in a row stop the run"
    assert rt.stop.fatal and "3 worker slots in a row could not start" in rt.stop.reason
    assert "shipyard doctor" in rt.stop.reason
    task = rt.board.get(1)
    assert task.status is not TaskStatus.CLAIMED and "lost: RayActorError" in task.notes[-1]
