"""The `pathologies` scenario: the ways long runs go wrong quietly, each staged on a small real fleet
(real git, the SQLite board, scripted or simulated agents) and judged from the event log alone:
was it detected, was it contained, how long containment took, and what work it cost."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from shipyard.bench.pathology_kit import (
    PathologyRow,
    Program,
    first,
    fleet,
    last,
    planner,
    run,
    scripted,
    span,
    steps,
    task_title,
    user_text,
)
from shipyard.domain import Role, TaskStatus
from shipyard.models.base import ModelRequest, ModelResponse
from shipyard.models.scripted import call, turn
from shipyard.models.sim import SimModel, SimWorkload

Stage = Callable[[Path], PathologyRow]


def _writes(content: Callable[[ModelRequest], dict[str, str]]) -> Program:
    """A worker that writes the files `content` names for its task, then finishes."""

    def play(req: ModelRequest) -> ModelResponse:
        if steps(req) == 0:
            files = content(req)
            return turn(
                *(call("write_file", f"w{n}", path=p, content=t) for n, (p, t) in enumerate(files.items()))
            )
        return turn(call("finish", summary="done"))

    return play


def false_done_no_change(root: Path) -> PathologyRow:
    """A worker says it is done without changing anything."""

    def worker(_req: ModelRequest) -> ModelResponse:
        return turn(call("finish", summary="all done, works perfectly"))

    rt = fleet(root, scripted(planner({"title": "add x.txt", "scope": ["x.txt"]}), worker))
    events, tasks = run(rt)
    released = first(events, "TaskReleased", 1)
    detected = released is not None and "without changes" in str(released.data.get("reason"))
    contained = first(events, "CommitMerged", 1) is None and tasks[0].status is TaskStatus.FAILED
    took = span(first(events, "TaskClaimed", 1), last(events, "TaskFailed", 1))
    return PathologyRow(
        "false done: no change", detected, contained, took, "none (nothing was made)", "TaskReleased"
    )


def false_done_failing_check(root: Path) -> PathologyRow:
    """A worker finishes a change that fails the check and says it is done."""
    worker = _writes(lambda r: {"fixed.txt" if "Fix" in task_title(r) else "broken.txt": "x"})
    models = scripted(planner({"title": "add a feature", "scope": ["broken.txt"]}), worker)
    rt = fleet(root, models, check="test ! -e broken.txt -o -e fixed.txt")
    events, tasks = run(rt)
    culprit = first(events, "CulpritFound")
    detected = culprit is not None and culprit.task_id == 1
    green = first(events, "MainGreen")
    checks = [e for e in events if e.kind == "CheckRan"]
    contained = green is not None and bool(checks) and bool(checks[-1].data.get("passed"))
    fixes = ", ".join(f"#{t.id}" for t in tasks if t.title.startswith("Fix"))
    lost = f"none (the change stays; fixed by {fixes})"
    return PathologyRow(
        "false done: failing check",
        detected,
        contained,
        span(first(events, "MainRed"), green),
        lost,
        "MainRed, CulpritFound",
    )


def runaway_agent(root: Path) -> PathologyRow:
    """A worker that never stops working on its task."""

    def worker(req: ModelRequest) -> ModelResponse:
        if task_title(req) == "loop forever":
            return turn(call("list_dir", path="."))
        return _writes(lambda _r: {"y.txt": "y"})(req)

    tasks_ = ({"title": "loop forever", "scope": ["x.txt"]}, {"title": "add y.txt", "scope": ["y.txt"]})
    rt = fleet(root, scripted(planner(*tasks_), worker), workers=2, limits={"max_steps": 6})
    events, tasks = run(rt)
    stopped = [e for e in events if e.kind == "AgentFinished" and e.task_id == 1]
    detected = bool(stopped) and all(e.data.get("stop_reason") == "max_steps" for e in stopped)
    contained = tasks[0].status is TaskStatus.FAILED and tasks[1].status is TaskStatus.DONE
    took = span(first(events, "TaskClaimed", 1), last(events, "TaskFailed", 1))
    return PathologyRow(
        "runaway agent",
        detected,
        contained,
        took,
        "1 task failed (its planner hears why)",
        "AgentFinished: max_steps",
    )


def duplicate_dispatch(root: Path) -> PathologyRow:
    """A worker loses its lease mid-task (a hung heartbeat) and the task is dispatched again."""
    box: dict[str, Any] = {}

    def worker(req: ModelRequest) -> ModelResponse:
        if not box.get("expired"):
            box["expired"] = True  # the first holder's lease runs out while it works (a hung heartbeat)
            board, task = box["rt"].board, box["rt"].board.tasks()[0]
            board.heartbeat(task.id, req.agent, lease_s=-1.0)
            board.expire_leases(box["rt"].config.fleet.max_attempts)
        return _writes(lambda r: {"x.txt": f"by {r.agent}"})(req)

    rt = fleet(root, scripted(planner({"title": "add x.txt", "scope": ["x.txt"]}), worker), workers=2)
    box["rt"] = rt
    events, tasks = run(rt)
    expired = first(events, "LeaseExpired", 1)
    stale = expired.agent if expired is not None else None
    caught = [e for e in events if e.kind in ("MergeRefused", "AgentStopped") and e.agent == stale]
    merges = [e for e in events if e.kind == "CommitMerged" and e.task_id == 1]
    contained = len(merges) == 1 and tasks[0].status is TaskStatus.DONE
    took = span(expired, caught[0] if caught else None)
    return PathologyRow(
        "duplicate dispatch",
        expired is not None and bool(caught),
        contained,
        took,
        "none (landed once)",
        "LeaseExpired, MergeRefused",
    )


def red_main(root: Path) -> PathologyRow:
    """Two merges that each pass the check alone break it together."""
    check = "test ! -e a.txt -o ! -e b.txt -o -e together.txt"

    def pick(req: ModelRequest) -> str:
        return "together.txt" if "Fix" in task_title(req) else f"{task_title(req)[-1]}.txt"

    two = ({"title": "write a", "scope": ["a.txt"]}, {"title": "write b", "scope": ["b.txt"]})
    rt = fleet(root, scripted(planner(*two), _writes(lambda r: {pick(r): "x"})), check=check, workers=2)
    events, _ = run(rt)
    culprit, green = first(events, "CulpritFound"), first(events, "MainGreen")
    detected = first(events, "MainRed") is not None and culprit is not None and culprit.task_id in (1, 2)
    checks = [e for e in events if e.kind == "CheckRan"]
    contained = green is not None and bool(checks[-1].data.get("passed"))
    culprit_text = f"culprit #{culprit.task_id}" if culprit is not None else "no culprit"
    took = span(first(events, "MainRed"), green)
    return PathologyRow(
        "red main: two merges break together",
        detected,
        contained,
        took,
        f"none ({culprit_text} kept, fixed)",
        "MainRed, CulpritFound, FixWritten",
    )


def conflict_storm(root: Path) -> PathologyRow:
    """Every task also appends to the same file."""
    load = SimWorkload(tasks=8, think_ms=20, hot_share=1.0, hot_files=1, seed=4)
    rt = fleet(
        root,
        {role: SimModel(load) for role in Role},
        workers=4,
        fleet={"max_conflict_rounds": 4, "max_attempts": 3},
    )
    events, tasks = run(rt)
    conflicts = [e for e in events if e.kind == "MergeConflicted"]
    hot = root / "sim" / "hot-0.txt"
    text = hot.read_text() if hot.exists() else ""
    code = [t for t in tasks if t.title.startswith("sim task")]
    done = [t for t in code if t.status is TaskStatus.DONE]
    clean = not any(line.startswith(("<<<<<<<", "=======", ">>>>>>>")) for line in text.splitlines())
    kept = all(load.line(int(t.title.split()[-1])) in text for t in done)
    contained = clean and kept and all(t.is_final for t in code)
    took = span(conflicts[0] if conflicts else None, last(events, "CommitMerged"))
    lost = f"{len(code) - len(done)} of {len(code)} tasks failed"
    return PathologyRow(
        "conflict storm", bool(conflicts), contained, took, lost, f"{len(conflicts)} MergeConflicted"
    )


def stops_early(root: Path) -> PathologyRow:
    """A worker stops talking before it has done anything (no tool calls, no finish)."""

    sessions: list[int] = []

    def worker(req: ModelRequest) -> ModelResponse:
        idle = any(m.role == "assistant" and "already fine" in m.content for m in req.messages)
        fresh = not any(m.role == "assistant" for m in req.messages)
        if idle or (fresh and not sessions):  # the first session only talks
            sessions.append(1)
            return turn(text="I think the code is already fine as it is.")
        return _writes(lambda _r: {"x.txt": "x"})(req)

    rt = fleet(root, scripted(planner({"title": "add x.txt", "scope": ["x.txt"]}), worker))
    events, tasks = run(rt)
    released = first(events, "TaskReleased", 1)
    detected = released is not None and "no_progress" in str(released.data.get("reason"))
    contained = tasks[0].status is TaskStatus.DONE and tasks[0].attempts == 2
    return PathologyRow(
        "agent stops early",
        detected,
        contained,
        span(released, first(events, "TaskCompleted", 1)),
        "none (redone)",
        "TaskReleased: no_progress",
    )


def overlapping_tasks(root: Path) -> PathologyRow:
    """A planner writes two tasks that change the same file."""

    def worker(req: ModelRequest) -> ModelResponse:
        if "MERGE CONFLICT" in user_text(req):  # keep both sides
            both = "line from part one\nline from part two\n"
            return _writes(lambda _r: {"shared.txt": both})(req)
        return _writes(lambda r: {"shared.txt": f"line from {task_title(r)}\n"})(req)

    two = ({"title": "part one", "scope": ["shared.txt"]}, {"title": "part two", "scope": ["shared.txt"]})
    rt = fleet(root, scripted(planner(*two), worker), workers=2)
    events, tasks = run(rt)
    overlap = first(events, "TasksOverlap")
    text = (root / "shared.txt").read_text() if (root / "shared.txt").exists() else ""
    contained = all(t.status is TaskStatus.DONE for t in tasks) and text.count("line from part") == 2
    took = span(overlap, last(events, "TaskCompleted"))
    return PathologyRow(
        "planner writes overlapping tasks",
        overlap is not None,
        contained,
        took,
        "none (both kept)",
        "TasksOverlap, then a conflict resolved",
    )


PATHOLOGIES: dict[str, Stage] = {
    "false_done": false_done_no_change,
    "false_done_check": false_done_failing_check,
    "runaway": runaway_agent,
    "duplicate_dispatch": duplicate_dispatch,
    "red_main": red_main,
    "conflict_storm": conflict_storm,
    "stops_early": stops_early,
    "overlapping_tasks": overlapping_tasks,
}


def run_pathologies(
    names: Sequence[str], scratch: Path, progress: Callable[[str], None]
) -> list[PathologyRow]:
    """Stage each named pathology in its own repository under `scratch`; one row each."""
    rows = []
    for name in names:
        row = PATHOLOGIES[name](scratch / f"pathology-{name}")
        progress(f"{row.pathology}: detected {row.detected}, contained {row.contained}")
        rows.append(row)
    return rows
