"""The views folded from the event log: agents, health, problems, cost by task; and plots of an empty run."""

from __future__ import annotations

from pathlib import Path

from shipyard.board.memory import InMemoryBoard
from shipyard.domain import Event, Handoff, TaskKind, TaskSpec
from shipyard.fleet.status import StatusOptions, run_status, status_of
from shipyard.report.fold import RunFold
from shipyard.report.plots import conflicts_plot, cost_plot, health_plot, progress_plot
from shipyard.report.problems import BudgetLimits
from shipyard.report.timeline import Timeline

T0 = 1_000.0


def ev(kind: str, ts: float, agent: str | None = None, task: int | None = None, /, **data: object) -> Event:
    return Event(kind, dict(data), task_id=task, agent=agent, ts=T0 + ts)


def model(agent: str, ts: float, role: str, task: int | None = None, cost: float = 0.01) -> Event:
    data = {"role": role, "step": 1, "input_tokens": 100, "output_tokens": 20, "cost_usd": cost}
    return Event("ModelCalled", {**data, "tool_calls": ["shell"]}, task_id=task, agent=agent, ts=T0 + ts)


def agents_at(events: list[Event], now: float, stall_s: float = 60) -> dict[str, dict[str, object]]:
    fold = RunFold().feed(
        Event(e.kind, e.data, e.task_id, e.agent, i + 1, e.ts) for i, e in enumerate(events)
    )
    return {a["name"]: a for a in fold.agents.views(T0 + now, stall_s)}


def test_agents_follow_claims_transcripts_and_ends() -> None:
    events = [
        ev("RunStarted", 0),
        ev("CycleStarted", 0, cycle=1),
        ev("TaskCreated", 1, "planner", 1, kind="code", title="a"),
        ev("TaskCreated", 1, "planner", 2, kind="plan", title="scope"),
        ev("PlannerFinished", 2, "planner"),
        ev("TaskClaimed", 3, "worker-1", 1),
        ev("TaskClaimed", 3, "worker-2", 2),
        model("worker-1", 5, "worker", 1),
        ev("ToolCalled", 6, "worker-1", 1, role="worker", step=1, tool="finish", args="{}", is_error=False),
    ]
    agents = agents_at(events, now=10)
    assert agents["planner"]["state"] == "idle"
    w1 = agents["worker-1"]
    assert (w1["role"], w1["state"], w1["task_id"], w1["on_it_s"], w1["quiet_s"]) == (
        "worker",
        "merging",
        1,
        7,
        4,
    )
    assert (w1["steps"], w1["tokens"]) == (1, 120)
    sub = agents["subplanner-2"]
    assert (sub["role"], sub["state"], sub["task_id"]) == ("subplanner", "planning", 2)
    assert "worker-2" not in agents, "a slot running a sub-planner is shown as the sub-planner"
    done = agents_at([*events, ev("TaskCompleted", 8, "worker-1", 1)], now=10)
    assert done["worker-1"]["state"] == "idle" and done["worker-1"]["task_id"] is None
    assert done["worker-1"]["last_action"] == "#1: completed"
    assert list(done) == ["planner", "subplanner-2", "worker-1"], "ordered by role, then name"


def test_a_busy_silent_agent_is_stalled_and_the_run_end_makes_everyone_idle() -> None:
    events = [ev("TaskCreated", 0, "planner", 1, kind="code"), ev("TaskClaimed", 1, "worker-10", 1)]
    events.append(model("worker-10", 2, "worker", 1))
    assert agents_at(events, now=50)["worker-10"]["stalled"] is False
    assert agents_at(events, now=63)["worker-10"]["stalled"] is True
    ended = agents_at([*events, ev("RunFinished", 70, state="stopped")], now=500)
    assert ended["worker-10"]["state"] == "idle" and ended["worker-10"]["stalled"] is False


def _board_with_trouble() -> InMemoryBoard:
    board = InMemoryBoard()
    for title in ("flaky", "broken", "fine"):
        board.add_task(TaskSpec(title=title))
    board.append(Event("RunStarted", {"workers": 2}))
    for agent, task_id, reason, limit in (
        ("w1", 1, "gave up", 2),
        ("w2", 1, "tests fail", 2),
        ("w1", 2, "flaky", 5),
    ):
        claimed = board.claim(agent, TaskKind.CODE, lease_s=60)
        assert claimed is not None and claimed.id == task_id
        board.release(task_id, agent, reason, max_attempts=limit)
    board.append(Event("CheckRan", {"sha": "a" * 40, "passed": True, "exit_code": 0}))
    board.append(Event("CheckRan", {"sha": "b" * 40, "passed": False, "exit_code": 1}))
    board.append(model("w2", 0, "worker", 2, cost=0.9))
    return board


def test_problems_come_worst_first() -> None:
    board = _board_with_trouble()
    status = run_status(board, BudgetLimits(usd=1.0), stall_s=1e12)
    kinds = [(p["kind"], p["severity"]) for p in status["problems"]]
    assert kinds[0] == ("branch_red", "error")
    assert ("task_failed", "error") in kinds
    assert ("budget", "warning") in kinds
    assert kinds.index(("budget", "warning")) > kinds.index(("task_failed", "error"))
    red = status["problems"][0]["text"]
    assert "the check failed on bbbbbbbbbb (exit 1); green 0s ago" in red
    failed = next(p for p in status["problems"] if p["kind"] == "task_failed")
    assert failed["task_id"] == 1 and "tests fail" in failed["text"]
    assert status["budget"]["usd"] == {"limit": 1.0, "used": 0.9, "fraction": 0.9}
    assert status["health"]["green"] is False and status["health"]["failures"] == 1


def test_retried_task_pause_and_cost_by_task() -> None:
    board = _board_with_trouble()
    board.set_meta("control", "pause")
    status = run_status(board)
    retried = [p for p in status["problems"] if p["kind"] == "task_retried"]
    assert retried == [], "task 2 came back once only"
    assert status["problems"][-1]["kind"] == "paused"
    assert status["by_task"] == [
        {"task_id": 2, "title": "broken", "status": "open", "tokens": 120, "cost_usd": 0.9}
    ]
    board.claim("w3", TaskKind.CODE, lease_s=60)
    board.release(2, "w3", "again", max_attempts=5)
    retried = [p for p in run_status(board)["problems"] if p["kind"] == "task_retried"]
    assert [p["task_id"] for p in retried] == [2]


def test_folding_in_pieces_equals_folding_at_once() -> None:
    board = _board_with_trouble()
    board.cancel(2, "not needed")
    board.claim("w9", TaskKind.CODE, lease_s=60)
    board.complete(3, "w9", ["c0ffee"], Handoff("ok"))
    board.append(Event("CommitMerged", {"sha": "c0ffee"}, 3, "w9"))
    events = board.events()
    whole = RunFold().feed(events)
    pieces = RunFold()
    for i in range(0, len(events), 3):
        pieces.feed(events[i : i + 3]).feed(events[: i + 3])  # refeeding old events changes nothing
    now = T0 + 99
    a = status_of(board, whole, StatusOptions(), now)
    b = status_of(board, pieces, StatusOptions(), now)
    assert a == b
    assert a["merged_commits"] == 1 and a["authors"] == ["w9"] and a["events"] == len(events)


def test_plots_of_an_empty_run_are_still_images(tmp_path: Path) -> None:
    empty = Timeline()
    paths = [
        progress_plot(empty, tmp_path / "p.png"),
        conflicts_plot(empty, tmp_path / "c.png"),
        health_plot(empty, tmp_path / "h.png"),
        cost_plot({}, tmp_path / "r.png"),
    ]
    assert all(p.read_bytes().startswith(b"\x89PNG") and p.stat().st_size > 2000 for p in paths)


def test_budgets_logged_at_the_start_of_the_run_are_measured() -> None:
    board = InMemoryBoard()
    board.append(Event("RunStarted", {"workers": 1, "budget": {"usd": 0, "tokens": 200, "wall_time_s": 0}}))
    board.append(model("worker-1", 0, "worker"))
    board.append(model("worker-1", 0, "worker"))
    status = run_status(board, stall_s=1e12)
    assert status["budget"] == {"tokens": {"limit": 200.0, "used": 240, "fraction": 1.2}}
    [problem] = status["problems"]
    assert (problem["kind"], problem["severity"]) == ("budget", "error")
    assert problem["text"] == "budget tokens: 120% used (240 of 200)"
