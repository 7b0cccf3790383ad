"""The fleet's rules, end to end in-process: done means merged and checked, limits, budgets, conflicts."""

from __future__ import annotations

import asyncio

from fleet_helpers import FleetFactory, run
from shipyard.domain import Event, Role, TaskStatus
from shipyard.models.base import ModelRequest, ModelResponse
from shipyard.models.scripted import ScriptedModel, call, turn


def _planner(*titles: str) -> list[ModelResponse]:
    tasks = [
        call("create_task", f"c{i}", title=t, description="d", acceptance="a", scope=[])
        for i, t in enumerate(titles)
    ]
    return [turn(*tasks), turn(call("finish", summary="planned")), turn(call("finish", summary="woken"))]


def _steps(req: ModelRequest) -> int:
    return sum(1 for m in req.messages if m.role == "tool")


def _writer(path: str, content: str) -> ScriptedModel:
    """Writes `path`; told of a merge conflict, it finishes without resolving it."""

    def worker(req: ModelRequest) -> ModelResponse:
        conflict = any("MERGE CONFLICT" in m.content for m in req.messages if m.role == "user")
        if _steps(req) == 0 and not conflict:
            return turn(call("write_file", path=path, content=content + req.agent))
        return turn(call("finish", summary=f"wrote {path}"))

    return ScriptedModel(programs={Role.WORKER: worker})


def _judge(decision: str) -> list[ModelResponse]:
    return [turn(call("verdict", decision=decision, notes="n"))] * 3


def test_judge_stop_is_overruled_while_the_check_fails(fleet: FleetFactory) -> None:
    planner = ScriptedModel({Role.PLANNER: _planner("one") + _planner()[1:], Role.JUDGE: _judge("stop")})
    rt = fleet(
        {
            Role.PLANNER: planner,
            Role.JUDGE: planner,
            Role.WORKER: _writer("a.txt", "x"),
            Role.SUBPLANNER: planner,
        },
        check="false",
        max_cycles=1,
    )
    result = run(rt)
    assert result.state == "stopped"
    assert any(e.kind == "VerdictOverruled" for e in rt.board.events())
    assert rt.board.counts()["done"] == 1


def test_unresolved_conflict_fails_the_task_after_its_rounds(fleet: FleetFactory) -> None:
    planner = ScriptedModel({Role.PLANNER: _planner("first", "second"), Role.JUDGE: _judge("stop")})
    worker = _writer("same.txt", "content from ")  # both tasks write the same file differently, never resolve
    rt = fleet(
        {Role.PLANNER: planner, Role.JUDGE: planner, Role.WORKER: worker, Role.SUBPLANNER: planner},
        workers=2,
        max_cycles=1,
        fleet={"max_conflict_rounds": 1},
    )
    result = run(rt)
    assert result.state == "done"
    counts = rt.board.counts()
    assert counts["done"] == 1 and counts["failed"] == 1
    failed = rt.board.tasks(TaskStatus.FAILED)[0]
    assert "merge conflicts not resolved" in failed.notes[-1]
    text = (rt.repo.root / "same.txt").read_text() if (rt.repo.root / "same.txt").exists() else ""
    assert "<<<<<<<" not in text


def test_agent_over_its_step_limit_is_stopped_and_fails_after_max_attempts(fleet: FleetFactory) -> None:
    planner = ScriptedModel({Role.PLANNER: _planner("loop forever"), Role.JUDGE: _judge("stop")})
    busy = ScriptedModel(programs={Role.WORKER: lambda req: turn(call("list_dir", path="."))})
    rt = fleet(
        {Role.PLANNER: planner, Role.JUDGE: planner, Role.WORKER: busy, Role.SUBPLANNER: planner},
        max_cycles=1,
        limits={"max_steps": 3},
        fleet={"max_attempts": 2},
    )
    run(rt)
    task = rt.board.get(1)
    assert task.status is TaskStatus.FAILED and task.attempts == 2
    assert "max_steps" in task.notes[-1]
    assert any(e.kind == "PlannerWoken" for e in rt.board.events())


def test_token_budget_stops_the_run_gracefully(fleet: FleetFactory) -> None:
    planner = ScriptedModel({Role.PLANNER: _planner("a", "b", "c"), Role.JUDGE: _judge("stop")})
    worker = _writer("f.txt", "x")
    rt = fleet(
        {Role.PLANNER: planner, Role.JUDGE: planner, Role.WORKER: worker, Role.SUBPLANNER: planner},
        workers=1,
        budget={"tokens": 300},
    )
    result = run(rt)
    assert result.state == "stopped" and "budget reached" in result.reason
    assert rt.board.counts()["claimed"] == 0
    assert rt.repo.list_worktrees() == []


class Hanging:
    """A worker model that never answers: only stall detection or a limit ends it."""

    name = "test:hang"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        await asyncio.sleep(60)
        raise AssertionError("never reached")


def test_stalled_agent_is_stopped_and_its_task_returns(fleet: FleetFactory) -> None:
    planner = ScriptedModel({Role.PLANNER: _planner("hang"), Role.JUDGE: _judge("stop")})
    rt = fleet(
        {Role.PLANNER: planner, Role.JUDGE: planner, Role.WORKER: Hanging(), Role.SUBPLANNER: planner},
        max_cycles=1,
        fleet={"stall_s": 0.4, "max_attempts": 1},
    )
    run(rt)
    task = rt.board.get(1)
    assert task.status is TaskStatus.FAILED and "stalled" in task.notes[-1]
    assert any(e.kind == "AgentStalled" for e in rt.board.events())


def test_delegation_stops_at_the_depth_limit(fleet: FleetFactory) -> None:
    plan = [
        turn(call("delegate", title="area", description="d", scope=["x"])),
        turn(call("finish", summary="s")),
    ]
    sub = [
        turn(call("delegate", title="deeper", description="d", scope=["x"])),
        turn(call("finish", summary="s")),
    ]
    model = ScriptedModel(
        {
            Role.PLANNER: plan + [turn(call("finish", summary="w"))] * 2,
            Role.SUBPLANNER: sub + [turn(call("finish", summary="w"))] * 2,
            Role.JUDGE: _judge("stop"),
        }
    )
    rt = fleet({r: model for r in Role}, max_cycles=1, fleet={"max_depth": 1})
    run(rt)
    deeper = [
        e
        for e in rt.board.events()
        if e.kind == "ToolCalled" and e.data["tool"] == "delegate" and str(e.agent).startswith("subplanner")
    ]
    assert deeper and all(e.data["is_error"] for e in deeper)  # refused: no delegate past max_depth
    assert [t.spec.depth for t in rt.board.tasks()] == [1]


def _task_writer(req: ModelRequest) -> ModelResponse:
    """Writes a file of its own for each task (named from the task's prompt), then finishes."""
    if _steps(req) == 0:
        name = f"t{sum(map(ord, req.messages[-1].content))}.txt"
        return turn(call("write_file", path=name, content="x"))
    return turn(call("finish", summary="wrote my file"))


def test_one_worker_reuses_its_checkout_and_nothing_is_left(fleet: FleetFactory) -> None:
    planner = ScriptedModel({Role.PLANNER: _planner("a", "b", "c"), Role.JUDGE: _judge("stop")})
    rt = fleet(
        {
            Role.PLANNER: planner,
            Role.JUDGE: planner,
            Role.WORKER: ScriptedModel(programs={Role.WORKER: _task_writer}),
            Role.SUBPLANNER: planner,
        },
        workers=1,
        max_cycles=1,
    )
    readmes: list[int] = []  # the inode of README.md in each task's worktree, as its worker starts

    def note(e: Event) -> None:
        if e.kind == "AgentStarted" and e.data["role"] == "worker":
            readmes.append((rt.worktree_path(f"{e.agent}-task-{e.task_id}") / "README.md").stat().st_ino)

    rt.progress = note
    result = run(rt)
    assert result.state == "done" and rt.board.counts()["done"] == 3
    assert len(readmes) == 3 and len(set(readmes)) == 1  # one file, reused by every task's checkout
    assert rt.repo.list_worktrees() == []
    assert not (rt.state_dir / "worktrees").exists()
    assert rt.repo.changed_files(rt.repo.root) == []
