"""Cancel means cancel: a cancelled claimed task is never merged, its agent stops, its worker moves on."""

from __future__ import annotations

import asyncio
import time

from cli_helpers import git
from fleet_helpers import FleetFactory, run
from shipyard.domain import Handoff, Role, TaskKind, TaskSpec, TaskStatus
from shipyard.fleet.merger import REFUSED, Merger
from shipyard.models.base import ModelRequest, ModelResponse
from shipyard.models.scripted import ScriptedModel, call, turn


def _planner(*titles: str) -> ScriptedModel:
    tasks = [
        call("create_task", f"c{i}", title=t, description="d", acceptance="a", scope=[])
        for i, t in enumerate(titles)
    ]
    finish = turn(call("finish", summary="planned"))
    verdict = turn(call("verdict", decision="stop", notes="n"))
    return ScriptedModel({Role.PLANNER: [turn(*tasks), finish, finish, finish], Role.JUDGE: [verdict] * 2})


def _steps(req: ModelRequest) -> int:
    return sum(1 for m in req.messages if m.role == "tool")


def _task_id(req: ModelRequest) -> int:
    return 1 if "cancel me" in req.messages[1].content else 2


def test_a_commit_of_a_cancelled_task_is_refused_at_the_merge(fleet: FleetFactory) -> None:
    rt = fleet({})
    a = rt.board.add_task(TaskSpec("cancelled meanwhile"))
    b = rt.board.add_task(TaskSpec("still held"))
    for task_id in (a.id, b.id):
        assert rt.board.claim(f"worker-{task_id}", TaskKind.CODE, 60) is not None
    root, tip = rt.repo.root, rt.repo.rev_parse("main")
    shas = []
    for name in ("a.txt", "b.txt"):
        git(root, "checkout", "-q", "-b", f"side-{name}", "main")
        (root / name).write_text(name)
        git(root, "add", name)
        git(root, "commit", "-q", "-m", name)
        shas.append(git(root, "rev-parse", "HEAD").strip())
        git(root, "checkout", "-q", "main")
    rt.board.cancel(a.id, "cancelled by the person")

    async def land() -> list[object]:
        merger = Merger(rt, lambda _sha: None)
        said = Handoff("did it")
        return list(
            await asyncio.gather(
                merger.land(rt.board.get(a.id), "worker-1", shas[0], said),
                merger.land(rt.board.get(b.id), "worker-2", shas[1], said),
            )
        )

    refused, landed = asyncio.run(land())
    assert refused is REFUSED and getattr(landed, "merged", False)
    assert rt.board.get(a.id).status is TaskStatus.CANCELLED
    assert rt.board.get(b.id).status is TaskStatus.DONE
    assert not rt.repo.contains("main", shas[0])  # the cancelled work is not on the branch
    assert rt.repo.contains("main", shas[1]) and rt.repo.rev_parse("main") != tip
    kinds = [e.kind for e in rt.board.events() if e.task_id == b.id]
    assert kinds[-2:] == ["CommitMerged", "TaskCompleted"]  # logged in the transaction that landed it


def test_a_task_cancelled_while_its_worker_finishes_is_not_merged(fleet: FleetFactory) -> None:
    def worker(req: ModelRequest) -> ModelResponse:
        mine = _task_id(req)
        if _steps(req) == 0:
            if mine == 1:  # the person cancels the task while the agent works on it
                rt.board.cancel(1, "cancelled by the person")
            return turn(call("write_file", path=f"t{mine}.txt", content="work"))
        return turn(call("finish", summary="done"))

    planner = _planner("cancel me", "then this")
    coder = ScriptedModel(programs={Role.WORKER: worker})
    models = {Role.PLANNER: planner, Role.JUDGE: planner, Role.WORKER: coder}
    rt = fleet(models, workers=1, max_cycles=1)
    run(rt)
    assert rt.board.get(1).status is TaskStatus.CANCELLED
    assert not (rt.repo.root / "t1.txt").exists()
    assert "t1.txt" not in git(rt.repo.root, "log", "--name-only", "main")
    assert rt.board.get(2).status is TaskStatus.DONE  # the worker took the next task
    kinds = [e.kind for e in rt.board.events()]
    assert "AgentCrashed" not in kinds
    assert not any(e.kind == "CommitMerged" and e.task_id == 1 for e in rt.board.events())


def test_a_cancelled_task_stops_its_agent_and_cleans_its_worktree(fleet: FleetFactory) -> None:
    def worker(req: ModelRequest) -> ModelResponse:
        mine = _task_id(req)
        if mine == 1 and _steps(req) == 0:  # cancelled, then the agent goes on for a long time
            rt.board.cancel(1, "cancelled by the person")
            return turn(call("write_file", path="t1.txt", content="work"))
        if mine == 1:
            return turn(call("shell", command="sleep 60", timeout_s=6))
        if _steps(req) == 0:
            return turn(call("write_file", path="t2.txt", content="work"))
        return turn(call("finish", summary="done"))

    planner = _planner("cancel me", "then this")
    coder = ScriptedModel(programs={Role.WORKER: worker})
    models = {Role.PLANNER: planner, Role.JUDGE: planner, Role.WORKER: coder}
    fleet_cfg = {"lease_s": 1.0, "shell_timeout_s": 120}
    rt = fleet(models, workers=1, max_cycles=1, fleet=fleet_cfg, limits={"max_steps": 4})
    started = time.monotonic()
    run(rt)
    assert time.monotonic() - started < 6  # the command was killed with its agent, not run out
    events = rt.board.events()
    stopped = [e for e in events if e.kind == "AgentStopped"]
    assert stopped and stopped[0].task_id == 1 and "cancelled" in stopped[0].data["reason"]
    assert rt.board.get(1).status is TaskStatus.CANCELLED
    assert rt.board.get(2).status is TaskStatus.DONE
    assert not (rt.repo.root / "t1.txt").exists()
    assert not rt.worktree_path("worker-1-task-1").exists()
    assert "shipyard/worker-1-task-1" not in git(rt.repo.root, "branch", "--list")
