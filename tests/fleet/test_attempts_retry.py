"""Retries build on the last kept attempt when the policy says so, rebased onto the newest tip."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from test_attempts_kept import THREE, _models, _planner, _steps, _three_then

from cli_helpers import git
from fleet_helpers import FleetFactory, run
from shipyard.domain import Role, Task, TaskKind, TaskSpec, TaskStatus
from shipyard.fleet.attempts import Ending, Opening, keep, keep_after, open_attempt, worktree_keeper
from shipyard.fleet.runtime import Runtime
from shipyard.git import GitRepo
from shipyard.git.attempt import AttemptStore, Snapshot
from shipyard.models.base import ModelRequest, ModelResponse
from shipyard.models.scripted import ScriptedModel, call, turn


class Grinder:
    """Attempt 1 writes three files and runs into its step limit; a continued attempt notes what its
    worktree holds when it starts, then finishes; a fresh one writes one file and finishes."""

    def __init__(self) -> None:
        self.rt: Runtime | None = None
        self.seen: list[tuple[str, set[str]]] = []  # (how it started, files present) per later attempt
        self.attempts = 0

    def __call__(self, req: ModelRequest) -> ModelResponse:
        prompt = next(m.content for m in req.messages if m.role == "user")
        self.attempts += _steps(req) == 0
        if self.attempts == 1:
            return _three_then(req, turn(call("list_dir", path=".")))
        if _steps(req) == 0:
            assert self.rt is not None
            worktree = self.rt.worktree_path(f"{req.agent}-task-1")
            present = {name for name in THREE if (worktree / name).exists()}
            how = "continued" if "PREVIOUS ATTEMPT" in prompt else "fresh"
            self.seen.append((how, present))
            if how == "fresh":
                return turn(call("write_file", path="fresh.txt", content="fresh\n"))
        return turn(call("finish", summary="finished the task"))


def _grind(fleet: FleetFactory, **config: object) -> tuple[Runtime, Grinder]:
    grinder = Grinder()
    planner = _planner("grind")
    rt = fleet(
        _models(ScriptedModel(programs={Role.WORKER: grinder}), planner),
        max_cycles=1,
        limits={"max_steps": 5},
        fleet={"max_attempts": 2},
        **config,
    )
    grinder.rt = rt
    return rt, grinder


def _show(rt: Runtime, name: str) -> str:
    path: Path = rt.repo.root / name
    return path.read_text() if path.exists() else ""


def test_a_retry_after_a_limit_starts_with_the_kept_files_and_lands_them(fleet: FleetFactory) -> None:
    rt, grinder = _grind(fleet)
    run(rt)
    assert grinder.seen == [("continued", set(THREE))]
    task = rt.board.get(1)
    assert task.status is TaskStatus.DONE and task.attempts == 2
    assert _show(rt, "src/c.py") == "src/c.py by worker-1\n"  # attempt 1's work, landed by attempt 2
    (kept,) = rt.repo.attempts().kept(1)
    assert kept.attempt == 1
    started = [e for e in rt.board.events() if e.kind == "AgentStarted" and e.task_id == 1]
    assert "agent stopped: max_steps" in started[-1].data["prompt"]
    assert any(e.kind == "AttemptContinued" and e.data["from_attempt"] == 1 for e in rt.board.events())


def test_the_policy_can_start_every_retry_fresh(fleet: FleetFactory) -> None:
    rt, grinder = _grind(fleet, attempts={"continue_after": []})
    run(rt)
    assert grinder.seen == [("fresh", set())]
    assert rt.board.get(1).status is TaskStatus.DONE
    assert _show(rt, "fresh.txt") == "fresh\n" and _show(rt, "a.txt") == ""
    assert len(rt.repo.attempts().kept(1)) == 1  # still kept for the person


def test_nothing_is_kept_when_keeping_is_off(fleet: FleetFactory) -> None:
    rt, grinder = _grind(fleet, attempts={"keep": False})
    run(rt)
    assert grinder.seen == [("fresh", set())] and rt.repo.attempts().kept() == []


def _kept_attempt(rt: Runtime, files: dict[str, str]) -> Task:
    """Task 1 after attempt 1 hit its step limit with `files` written; claimed again for attempt 2."""
    task = rt.board.add_task(TaskSpec(title="shared work", description="d"))
    first = rt.board.claim("worker-1", TaskKind.CODE, 60)
    assert first is not None
    worktree = rt.repo.add_worktree(rt.worktree_path("worker-1-task-1"), "shipyard/w1", "main")
    for name, text in files.items():
        (worktree / name).write_text(text)
    rt.board.release(task.id, "worker-1", "agent stopped: max_steps", 3)
    assert keep(rt, first, "worker-1", worktree, Ending("limit", "agent stopped: max_steps"))
    rt.repo.remove_worktree(worktree, "shipyard/w1")
    second = rt.board.claim("worker-2", TaskKind.CODE, 60)
    assert second is not None and second.attempts == 2
    return second


def test_a_continued_attempt_meets_conflicts_with_the_newest_tip_as_a_merge_would(
    fleet: FleetFactory,
) -> None:
    rt = fleet(_models(ScriptedModel(), _planner()))
    task = _kept_attempt(rt, {"README.md": "the attempt's readme\n", "new.txt": "new\n"})
    (rt.repo.root / "README.md").write_text("landed meanwhile\n")
    git(rt.repo.root, "commit", "-qam", "landed meanwhile")
    worktree = rt.repo.add_worktree(rt.worktree_path("worker-2-task-1"), "shipyard/w2", "main")

    opening = open_attempt(rt, task, "worker-2", worktree)

    assert opening.conflicts == ("README.md",) and "<<<<<<<" in (worktree / "README.md").read_text()
    assert (worktree / "new.txt").read_text() == "new\n"
    assert "PREVIOUS ATTEMPT: attempt 1" in opening.text and "MERGE CONFLICT" in opening.text
    assert "max_steps" in opening.text and "new.txt" in opening.text


def test_a_rewritten_task_starts_fresh(fleet: FleetFactory) -> None:
    rt = fleet(_models(ScriptedModel(), _planner()))
    task = _kept_attempt(rt, {"new.txt": "new\n"})
    rewritten = replace(task, spec=replace(task.spec, description="something else now"))
    worktree = rt.repo.add_worktree(rt.worktree_path("worker-2-task-1"), "shipyard/w2", "main")
    assert open_attempt(rt, rewritten, "worker-2", worktree) == Opening()
    assert not (worktree / "new.txt").exists()
    assert open_attempt(rt, task, "worker-2", worktree).text  # the same task continues


@dataclass(frozen=True)
class _GatedStore(AttemptStore):
    gate: threading.Event = field(default_factory=threading.Event, compare=False)

    def keep(self, worktree: Path, snap: Snapshot) -> str | None:
        self.gate.wait(30)
        return super().keep(worktree, snap)


@dataclass(frozen=True)
class _SlowKeeper(GitRepo):
    store: list[_GatedStore] = field(default_factory=list, compare=False)

    def attempts(self) -> AttemptStore:
        return self.store[0]


def test_a_retry_claimed_while_the_last_attempt_is_being_kept_waits_for_it(fleet: FleetFactory) -> None:
    rt = fleet(_models(ScriptedModel(), _planner()))
    rt.repo = slow = _SlowKeeper(rt.repo.root, rt.repo.git_dir)
    slow.store.append(_GatedStore(rt.repo.root))
    task = rt.board.add_task(TaskSpec(title="shared work", description="d"))
    first = rt.board.claim("worker-1", TaskKind.CODE, 60)
    assert first is not None
    old = rt.repo.add_worktree(rt.worktree_path("worker-1-task-1"), "shipyard/w1", "main")
    (old / "work.txt").write_text("the first attempt's\n")
    rt.board.release(task.id, "worker-1", "agent stopped: max_steps", 3)
    second = rt.board.claim("worker-2", TaskKind.CODE, 60)
    assert second is not None
    new = rt.repo.add_worktree(rt.worktree_path("worker-2-task-1"), "shipyard/w2", "main")
    openings: list[Opening] = []

    async def both() -> None:
        keeping = asyncio.ensure_future(keep_after(rt, first, "worker-1", worktree_keeper(rt, old), None))
        await asyncio.sleep(0)  # the old worker's cleanup has started (and registered)
        opener = threading.Thread(target=lambda: openings.append(open_attempt(rt, second, "worker-2", new)))
        opener.start()
        opener.join(0.3)
        assert opener.is_alive(), "the new attempt looked for kept work before the last was kept"
        slow.store[0].gate.set()
        await keeping
        await asyncio.to_thread(opener.join)

    asyncio.run(both())
    assert "PREVIOUS ATTEMPT: attempt 1" in openings[0].text
    assert (new / "work.txt").read_text() == "the first attempt's\n"
