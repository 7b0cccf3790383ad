"""Red main is repaired: two merges that each pass alone break the tip together; the harness finds the
culprit merge, writes a top-priority fix, wakes its planner, and the run ends green without a person."""

from __future__ import annotations

import asyncio

from cli_helpers import git
from fleet_helpers import FleetFactory, run
from shipyard.board.sqlite import SqliteBoard
from shipyard.domain import Role, TaskSpec, TaskStatus
from shipyard.fleet.health import CheckResult
from shipyard.fleet.merger import Merger
from shipyard.fleet.repair import Repair
from shipyard.fleet.run import Fleet
from shipyard.fleet.runtime import Runtime
from shipyard.fleet.status import run_status
from shipyard.models.base import ModelRequest, ModelResponse
from shipyard.models.scripted import ScriptedModel, call, turn
from shipyard.report.html import write_report

# Fails only when a.txt and b.txt are both there without together.txt: each change passes alone.
CHECK = "test ! -e a.txt -o ! -e b.txt -o -e together.txt || { echo 'a and b clash'; exit 3; }"


def _steps(req: ModelRequest) -> int:
    return sum(1 for m in req.messages if m.role == "tool")


def _user(req: ModelRequest) -> str:
    return "\n".join(m.content for m in req.messages if m.role == "user")


def _planner(req: ModelRequest) -> ModelResponse:
    text = _user(req)
    if _steps(req) == 0 and "first cycle" in text and "(none: fresh start)" in text:
        return turn(
            call("create_task", "a", title="write a", description="d", acceptance="x", scope=["a.txt"]),
            call("create_task", "b", title="write b", description="d", acceptance="x", scope=["b.txt"]),
        )
    return turn(call("finish", summary="planned"))


def _worker(req: ModelRequest) -> ModelResponse:
    title = _user(req).split("\n", 1)[0]
    if _steps(req) == 0:
        name = "together.txt" if title.startswith("# Task: Fix") else f"{title[-1]}.txt"
        return turn(call("write_file", path=name, content=title))
    return turn(call("finish", summary="wrote it"))


def test_two_merges_that_break_the_tip_together_are_repaired_without_a_person(fleet: FleetFactory) -> None:
    verdict = turn(call("verdict", decision="stop", notes="done"))
    model = ScriptedModel(
        {Role.JUDGE: [verdict] * 3}, programs={Role.PLANNER: _planner, Role.WORKER: _worker}
    )
    rt = fleet({r: model for r in Role}, check=CHECK, workers=2, max_cycles=1)
    result = run(rt)
    assert result.state == "done", result.reason
    events = rt.board.events()
    kinds = [e.kind for e in events]
    assert kinds.count("MainRed") == 1 and kinds.count("MainGreen") == 1
    merged = {e.task_id: e.data["sha"] for e in events if e.kind == "CommitMerged"}
    culprit = next(e for e in events if e.kind == "CulpritFound")
    later = max(
        (1, 2),
        key=lambda t: next(i for i, e in enumerate(events) if e.kind == "CommitMerged" and e.task_id == t),
    )
    assert (culprit.task_id, culprit.data["sha"]) == (later, merged[later])
    fix = rt.board.get(next(e.task_id for e in events if e.kind == "FixWritten"))
    assert fix.status is TaskStatus.DONE and f"#{later}" in fix.title
    assert fix.spec.priority > max(rt.board.get(t).spec.priority for t in (1, 2))
    assert "a and b clash" in fix.spec.description and merged[later][:12] in fix.spec.description
    woken = [_user(c) for c in model.calls if c.role is Role.PLANNER and "shared branch is red" in _user(c)]
    assert woken and "a and b clash" in woken[0] and merged[later][:12] in woken[0]
    green = next(e for e in events if e.kind == "MainGreen")
    assert green.data["culprit"] == merged[later] and green.data["fixes"] == [fix.id]
    assert green.data["red_s"] > 0
    checks = [e for e in events if e.kind == "CheckRan"]
    assert checks[-1].data["passed"] and (rt.repo.root / "together.txt").exists()
    health = run_status(rt.board)["health"]
    assert health["green"] is True
    spell = health["red_spells"][0]
    assert (spell["culprit"], spell["culprit_task"], spell["fixes"]) == (merged[later], later, [fix.id])
    assert spell["red_s"] == green.data["red_s"]

    report = write_report(rt.board, rt.state_dir / "report").index.read_text()
    assert "Red spells of the shared branch" in report and merged[later][:10] in report
    assert f"#{fix.id}" in report and "green again after" in report


def _redoer(req: ModelRequest) -> ModelResponse:
    """Writes its letter's file; a redo (told why it was reverted) also writes together.txt."""
    title = _user(req).split("\n", 1)[0]
    if _steps(req) == 0:
        letter = title.rsplit(" ", 1)[-1]
        files = [f"{letter}.txt", "together.txt"] if "Redo" in title else [f"{letter}.txt"]
        return turn(*(call("write_file", f"w{n}", path=f, content=title) for n, f in enumerate(files)))
    return turn(call("finish", summary="wrote it"))


def test_by_configuration_the_culprit_is_reverted_and_its_task_redone(fleet: FleetFactory) -> None:
    verdict = turn(call("verdict", decision="stop", notes="done"))
    model = ScriptedModel(
        {Role.JUDGE: [verdict] * 3}, programs={Role.PLANNER: _planner, Role.WORKER: _redoer}
    )
    rt = fleet({r: model for r in Role}, check=CHECK, workers=2, max_cycles=1, fleet={"red_main": "revert"})
    result = run(rt)
    assert result.state == "done", result.reason
    events = rt.board.events()
    culprit = next(e for e in events if e.kind == "CulpritFound")
    reverted = next(e for e in events if e.kind == "MergeReverted")
    assert reverted.task_id == culprit.task_id and reverted.data["culprit"] == culprit.data["sha"]
    assert not any(e.kind == "FixWritten" for e in events)
    redo = rt.board.get(reverted.data["redo"])
    assert redo.title.startswith(f"Redo #{culprit.task_id}: write ") and redo.status is TaskStatus.DONE
    assert "a and b clash" in redo.spec.description
    reds = [e for e in events if e.kind in ("MainRed", "MainGreen")]
    assert [e.kind for e in reds][:2] == ["MainRed", "MainGreen"]  # the revert made it green at once
    assert all((rt.repo.root / f).exists() for f in ("a.txt", "b.txt", "together.txt"))
    assert next(e for e in reversed(events) if e.kind == "CheckRan").data["passed"]


def test_bisection_finds_the_first_breaking_merge_among_many(fleet: FleetFactory) -> None:
    rt = fleet({}, check="test ! -e bad.txt")
    root = rt.repo.root
    names = [
        "m0",
        "m1",
        "m2",
        "m3",
        "bad",
        "m5",
    ]  # the fifth merge breaks the check; the sixth does not fix it
    tasks = [
        rt.board.add_task(TaskSpec(f"write {n}", planner=f"subplanner-{i}")) for i, n in enumerate(names)
    ]
    shas = []
    for name in names:
        git(root, "checkout", "-q", "-b", f"side-{name}", "main")
        (root / f"{name}.txt").write_text(name)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", name)
        shas.append(git(root, "rev-parse", "HEAD").strip())
        git(root, "checkout", "-q", "main")

    async def scenario() -> None:
        merger = Merger(rt, lambda _sha: None, max_batch=1)
        repair = Repair(rt, merger.land)
        for task, sha in zip(tasks, shas, strict=True):
            assert (await merger.land(task, "worker-1", sha)).merged
        tip = rt.repo.rev_parse("main") or ""
        repair.on_check(CheckResult(tip, False, 1, "bad.txt is there", 0.1))
        await repair.settle()

    asyncio.run(scenario())
    events = rt.board.events()
    found = next(e for e in events if e.kind == "CulpritFound")
    merged = {e.task_id: e.data["sha"] for e in events if e.kind == "CommitMerged"}
    assert (found.task_id, found.data["sha"]) == (tasks[4].id, merged[tasks[4].id])
    assert found.data["merges"] == 6 and found.data["probes"] <= 4  # the start, then log2(6) probes
    fix = next(t for t in rt.board.tasks() if t.title.startswith("Fix"))
    assert fix.spec.planner == "subplanner-4" and fix.spec.priority == 1
    assert (
        "subplanner-4",
        fix.spec.description + f"\n\nTask #{fix.id} ({fix.title}) is on the board at top "
        "priority; do not write it again.",
    ) == rt.wake_requests[0]


def test_a_red_spell_cut_by_a_restart_is_repaired_after_resume(fleet: FleetFactory) -> None:
    verdict = turn(call("verdict", decision="stop", notes="done"))
    box: dict[str, Runtime] = {}

    def stops_at_the_fix(req: ModelRequest) -> ModelResponse:
        if "Fix" in _user(req).split("\n", 1)[0]:
            box["rt"].stop.set("the person stopped the run")  # as Ctrl-C would, before the fix lands
            return turn(call("list_dir", path="."))
        return _worker(req)

    first = ScriptedModel(
        {Role.JUDGE: [verdict] * 3}, programs={Role.PLANNER: _planner, Role.WORKER: stops_at_the_fix}
    )
    rt = fleet({r: first for r in Role}, check=CHECK, workers=2, max_cycles=1)
    box["rt"] = rt
    assert run(rt).state == "stopped"
    assert rt.board.get_meta("branch_health") == "red"
    rt.board.close()
    second = ScriptedModel(
        {Role.JUDGE: [verdict] * 3}, programs={Role.PLANNER: _planner, Role.WORKER: _worker}
    )
    again = Runtime(
        config=rt.config,
        repo=rt.repo,
        board=SqliteBoard(rt.repo.root / ".shipyard" / "board.sqlite"),
        models=dict.fromkeys(Role, second),
    )
    result = asyncio.run(Fleet(again).run(resume=True))
    assert result.state == "done", result.reason
    fixes = [t for t in again.board.tasks() if t.title.startswith("Fix")]
    assert len(fixes) == 1 and fixes[0].status is TaskStatus.DONE  # the fix written before is reused
    green = [e for e in again.board.events() if e.kind == "MainGreen"]
    assert len(green) == 1 and green[0].data["fixes"] == [fixes[0].id]
    assert again.board.get_meta("branch_health") == "green"
    again.board.close()
