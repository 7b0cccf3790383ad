"""Nothing a worker did is thrown away: every way an attempt ends without landing leaves a kept commit."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet_helpers import FleetFactory, run
from shipyard.domain import Event, Role, TaskKind, TaskSpec, TaskStatus
from shipyard.errors import GitError
from shipyard.fleet.attempts import Ending, keep
from shipyard.fleet.recovery import reconcile
from shipyard.fleet.runtime import Runtime
from shipyard.git import GitRepo
from shipyard.git.attempt import AttemptStore, KeptCommit, Snapshot
from shipyard.git.run import git
from shipyard.models.base import ModelRequest, ModelResponse
from shipyard.models.scripted import ScriptedModel, call, turn

THREE = ("a.txt", "b.txt", "src/c.py")


def _planner(*titles: str) -> ScriptedModel:
    tasks = [
        call("create_task", f"c{i}", title=t, description="d", acceptance="a", scope=[])
        for i, t in enumerate(titles)
    ]
    plan = [turn(*tasks), turn(call("finish", summary="planned"))] + [turn(call("finish", summary="w"))] * 4
    return ScriptedModel(
        {Role.PLANNER: plan, Role.JUDGE: [turn(call("verdict", decision="stop", notes="n"))] * 3}
    )


def _steps(req: ModelRequest) -> int:
    return sum(1 for m in req.messages if m.role == "tool")


def _three_then(req: ModelRequest, then: ModelResponse) -> ModelResponse:
    """Write three files, one a step, then play `then`."""
    step = _steps(req)
    if step < len(THREE):
        return turn(call("write_file", path=THREE[step], content=f"{THREE[step]} by {req.agent}\n"))
    return then


class WritesThenHangs:
    """Writes three files, then never answers again: only a stall or a stop ends it."""

    name = "test:writes-then-hangs"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if _steps(request) < len(THREE):
            return _three_then(request, turn())
        await asyncio.sleep(60)
        raise AssertionError("never reached")


def _models(rt_worker: object, planner: ScriptedModel) -> dict[Role, object]:
    return {Role.PLANNER: planner, Role.JUDGE: planner, Role.SUBPLANNER: planner, Role.WORKER: rt_worker}


def _kept(rt: Runtime, task_id: int = 1) -> list[KeptCommit]:
    return rt.repo.attempts().kept(task_id)


def _files(rt: Runtime, sha: str) -> set[str]:
    return set(git(rt.repo.root, "ls-tree", "-r", "--name-only", sha).stdout.split())


def test_an_attempt_stopped_by_its_step_limit_is_kept(fleet: FleetFactory) -> None:
    busy = ScriptedModel(programs={Role.WORKER: lambda r: _three_then(r, turn(call("list_dir", path=".")))})
    rt = fleet(
        _models(busy, _planner("grind")), max_cycles=1, limits={"max_steps": 5}, fleet={"max_attempts": 1}
    )
    run(rt)
    assert rt.board.get(1).status is TaskStatus.FAILED
    (kept,) = _kept(rt)
    assert kept.attempt == 1 and kept.trailers["Ended"] == "limit"
    assert set(THREE) <= _files(rt, kept.sha)
    assert (
        "agent stopped: max_steps" in kept.message and "Shipyard attempt 1 of task #1: grind" in kept.message
    )
    assert git(rt.repo.root, "show", f"{kept.sha}:src/c.py").stdout == "src/c.py by worker-1\n"
    assert rt.repo.list_worktrees() == [] and not rt.repo.branches_with_prefix("shipyard/")
    assert any(e.kind == "AttemptKept" and e.data["ended"] == "limit" for e in rt.board.events())


def test_a_stalled_attempt_is_kept(fleet: FleetFactory) -> None:
    rt = fleet(
        _models(WritesThenHangs(), _planner("hang")),
        max_cycles=1,
        fleet={"stall_s": 0.4, "max_attempts": 1},
    )
    run(rt)
    (kept,) = _kept(rt)
    assert kept.trailers["Ended"] == "stalled" and set(THREE) <= _files(rt, kept.sha)


def test_an_attempt_cut_by_a_stop_is_kept(fleet: FleetFactory) -> None:
    rt = fleet(_models(WritesThenHangs(), _planner("hang")), max_cycles=1)

    def stop_after_the_third_file(e: Event) -> None:
        if e.kind == "ToolCalled" and THREE[-1] in e.data.get("args", ""):
            rt.stop.set("stopped by the test")

    rt.progress = stop_after_the_third_file
    result = run(rt)
    assert result.state == "stopped"
    (kept,) = _kept(rt)
    assert kept.trailers["Ended"] == "stopped" and set(THREE) <= _files(rt, kept.sha)
    assert rt.board.get(1).status is TaskStatus.OPEN


def _same_file(req: ModelRequest) -> ModelResponse:
    """Writes same.txt; told of a merge conflict, finishes without resolving it."""
    conflict = any("MERGE CONFLICT" in m.content for m in req.messages if m.role == "user")
    if _steps(req) == 0 and not conflict:
        return turn(call("write_file", path="same.txt", content=f"content from {req.agent}\n"))
    return turn(call("finish", summary="wrote same.txt"))


def test_an_attempt_that_failed_its_conflict_rounds_is_kept(fleet: FleetFactory) -> None:
    worker = ScriptedModel(programs={Role.WORKER: _same_file})
    rt = fleet(
        _models(worker, _planner("first", "second")),
        workers=2,
        max_cycles=1,
        fleet={"max_conflict_rounds": 1},
    )
    run(rt)
    (failed,) = rt.board.tasks(TaskStatus.FAILED)
    (kept,) = _kept(rt, failed.id)
    assert kept.trailers["Ended"] == "conflict" and "Handoff: wrote same.txt" in kept.message
    text = git(rt.repo.root, "show", f"{kept.sha}:same.txt").stdout
    assert "<<<<<<<" in text and "content from worker-" in text
    assert rt.repo.attempts().changes("main", kept.sha).files == ("same.txt",)
    (done,) = rt.board.tasks(TaskStatus.DONE)
    assert _kept(rt, done.id) == []  # what landed is on the shared branch: nothing to keep


def test_recovery_keeps_what_a_killed_run_left_in_its_worktrees(fleet: FleetFactory) -> None:
    rt = fleet(_models(WritesThenHangs(), _planner()))
    task = rt.board.add_task(TaskSpec(title="cut short"))
    claimed = rt.board.claim("worker-2", TaskKind.CODE, 60)
    assert claimed is not None and claimed.id == task.id
    worktree = rt.repo.add_worktree(rt.worktree_path(f"worker-2-task-{task.id}"), "shipyard/x", "main")
    for name in THREE:
        (worktree / name).parent.mkdir(parents=True, exist_ok=True)
        (worktree / name).write_text("unsaved work\n")
    rt.repo.add_worktree(rt.worktree_path("planner-snapshot"), "shipyard/planner-snapshot", "main")

    report = reconcile(rt)

    assert report.removed_worktrees == 2 and rt.repo.list_worktrees() == []
    (kept,) = rt.repo.attempts().kept()
    assert (kept.task_id, kept.attempt, kept.trailers["Ended"]) == (task.id, 1, "interrupted")
    assert kept.trailers["Agent"] == "worker-2" and set(THREE) <= _files(rt, kept.sha)
    assert rt.board.get(task.id).status is TaskStatus.OPEN


@dataclass(frozen=True)
class _BrokenStore(AttemptStore):
    def keep(self, worktree: Path, snap: Snapshot) -> str | None:
        raise GitError(["commit-tree"], 128, "fatal: the disk is full")


@dataclass(frozen=True)
class _RepoThatCannotKeep(GitRepo):
    def attempts(self) -> AttemptStore:
        return _BrokenStore(self.root)


def test_a_failure_to_keep_is_logged_and_the_cleanup_goes_on(fleet: FleetFactory) -> None:
    busy = ScriptedModel(programs={Role.WORKER: lambda r: _three_then(r, turn(call("list_dir", path=".")))})
    limits = {"max_steps": 5}
    rt = fleet(_models(busy, _planner("grind")), max_cycles=1, limits=limits, fleet={"max_attempts": 1})
    rt.repo = _RepoThatCannotKeep(rt.repo.root, rt.repo.git_dir)
    run(rt)
    assert rt.board.get(1).status is TaskStatus.FAILED
    (event,) = [e for e in rt.board.events() if e.kind == "AttemptNotKept"]
    assert "disk is full" in event.data["error"]
    assert rt.repo.list_worktrees() == [] and not rt.repo.branches_with_prefix("shipyard/")


@dataclass(frozen=True)
class _RepoThatFailsOneCommit(GitRepo):
    failed: list[str] = field(default_factory=list, compare=False)

    def commit_all(self, worktree: Path, message: str, *args: Any, **kwargs: Any) -> str | None:
        if not self.failed:
            self.failed.append(message)
            raise GitError(["commit"], 128, "fatal: unable to write new index file")
        return super().commit_all(worktree, message, *args, **kwargs)


def test_a_crashed_attempt_is_kept_and_its_retry_lands_the_work(fleet: FleetFactory) -> None:
    worker = ScriptedModel(
        programs={Role.WORKER: lambda r: _three_then(r, turn(call("finish", summary="s")))}
    )
    rt = fleet(_models(worker, _planner("crash once")), max_cycles=1, fleet={"max_attempts": 2})
    rt.repo = _RepoThatFailsOneCommit(rt.repo.root, rt.repo.git_dir)
    run(rt)
    (kept,) = _kept(rt)
    assert kept.trailers["Ended"] == "crashed" and "unable to write new index file" in kept.message
    assert set(THREE) <= _files(rt, kept.sha)
    assert any(e.kind == "AgentCrashed" for e in rt.board.events())
    task = rt.board.get(1)
    assert task.status is TaskStatus.DONE and task.attempts == 2
    assert all((rt.repo.root / name).exists() for name in THREE)
    assert any(e.kind == "AttemptContinued" for e in rt.board.events())  # `crashed` is continued


def test_the_kept_message_is_redacted(fleet: FleetFactory) -> None:
    rt = fleet(_models(WritesThenHangs(), _planner()))
    task = rt.board.add_task(TaskSpec(title="leaky"))
    claimed = rt.board.claim("worker-1", TaskKind.CODE, 60)
    assert claimed is not None
    worktree = rt.repo.add_worktree(rt.worktree_path("worker-1-task-1"), "shipyard/w1", "main")
    (worktree / "a.txt").write_text("work\n")
    secret = "sk-ant-api03-" + "abcdefghij" * 4
    sha = keep(rt, claimed, "worker-1", worktree, Ending("crashed", f"crashed: 401 for key {secret}"))
    assert sha is not None and task.id == 1
    (kept,) = rt.repo.attempts().kept()
    assert secret not in kept.message and "[REDACTED]" in kept.trailers["Reason"]
    (event,) = [e for e in rt.board.events() if e.kind == "AttemptKept"]
    assert secret not in str(event.data)
