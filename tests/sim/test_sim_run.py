"""`shipyard run PATH --model sim` end to end: planners, sub-planners, workers and judge, all simulated."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import git, invoke, make_repo

TASKS = 30


def test_a_simulated_run_lands_every_task_and_loses_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "target")
    (repo / "shipyard.toml").write_text(
        f"[sim]\ntasks = {TASKS}\nthink_ms = 5\nhot_share = 0.3\n[fleet]\nmax_tasks_per_planner = 8\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "sim settings")
    result = invoke("run", str(repo), "--model", "sim", "--workers", "4")
    assert result.exit_code == 0, result.stdout
    assert "all 30 sim tasks are on the shared branch" in result.stdout

    status = json.loads(invoke("status", str(repo), "--json").stdout)
    assert status["state"] == "done"
    assert status["tokens"] > 0 and status["cost_usd"] > 0
    assert status["tasks"]["open"] == 0 and status["tasks"]["claimed"] == 0

    events = _events(repo)
    titles = {e["title"] for e in events if e["kind"] == "TaskCreated"}
    assert any(t.startswith("sim tasks ") for t in titles), "30 tasks at 8 per planner need sub-planners"
    done = {e["task_id"] for e in events if e["kind"] == "TaskCompleted"}
    code_titles = {e["task_id"]: e["title"] for e in events if e["kind"] == "TaskCreated"}
    landed = {code_titles[t] for t in done if code_titles[t].startswith("sim task ")}
    assert landed == {f"sim task {i}" for i in range(TASKS)}

    reachable = set(git(repo, "rev-list", "main").split())
    merged = [e for e in events if e["kind"] == "CommitMerged"]
    assert len(merged) >= TASKS
    assert all({e["sha"], e["commit"]} <= reachable for e in merged), "a merged commit is not on main"
    hot = "".join((repo / "sim" / name).read_text() for name in ("hot-0.txt", "hot-1.txt"))
    assert "<<<<<<<" not in hot
    assert git(repo, "status", "--porcelain") == "", "the checkout must be kept in step with main"


def test_a_simulated_run_needs_no_goal_and_no_config(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "target")
    result = invoke("run", str(repo), "--model", "sim")
    assert result.exit_code == 0, result.stdout
    assert "all 24 sim tasks are on the shared branch" in result.stdout


def _events(repo: Path) -> list[dict[str, object]]:
    """The run's event log, flattened: the data's keys, then the event's kind and task id."""
    import sqlite3

    with sqlite3.connect(repo / ".shipyard" / "board.sqlite") as db:
        rows = db.execute("SELECT kind, task_id, data FROM events ORDER BY id").fetchall()
    return [{**json.loads(data), "kind": kind, "task_id": task_id} for kind, task_id, data in rows]
