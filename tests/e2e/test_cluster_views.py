"""What a person sees of a cluster run without a cluster: `status` lists each node's tasks and agents,
and `doctor` takes `run`'s `--engine` and accepts a sim configuration as `run` does."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import invoke, make_repo
from shipyard.board.memory import InMemoryBoard
from shipyard.cli.nodes import node_summary
from shipyard.domain import Event

WIDE = {"COLUMNS": "250"}


def test_node_summary_counts_placements_and_agents_per_node() -> None:
    board = InMemoryBoard()
    board.append(Event("TaskClaimed", {}, 1, "worker-1"))
    for task, agent, node in [
        (1, "worker-1", "10.0.0.3"),
        (2, "worker-2", "10.0.0.4"),
        (1, "worker-10", "10.0.0.4"),
    ]:
        board.append(Event("WorkerPlaced", {"node": node, "node_id": "x", "host": "h"}, task, agent))
    board.append(Event("WorkerPlaced", {"node": "10.0.0.3"}, 3, "worker-1"))
    assert node_summary(board) == {
        "10.0.0.3": {"tasks": 2, "agents": ["worker-1"]},
        "10.0.0.4": {"tasks": 2, "agents": ["worker-2", "worker-10"]},
    }
    assert node_summary(InMemoryBoard()) == {}


def _sim_repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "target")
    (root / "shipyard.toml").write_text('[models]\ndefault = "sim"\n[sim]\ntasks = 2\n')
    return root


def test_doctor_accepts_a_sim_configuration_without_a_goal_as_run_does(tmp_path: Path) -> None:
    root = _sim_repo(tmp_path)
    result = invoke("doctor", str(root), "--json")
    rows = json.loads(result.stdout)["rows"]
    assert not [row for row in rows if row["status"] == "missing"], rows
    assert result.exit_code == 0


def test_doctor_names_a_bad_engine_flag(tmp_path: Path) -> None:
    root = _sim_repo(tmp_path)
    result = invoke("doctor", str(root), "--engine", "nosuch", env=WIDE)
    assert result.exit_code == 1, result.stdout
    assert "--engine `nosuch`: unknown engine" in result.stdout
    assert "ray cluster" not in result.stdout  # checked as the local run it would fall back to


def test_status_shows_each_nodes_tasks(tmp_path: Path) -> None:
    root = _sim_repo(tmp_path)
    assert invoke("run", str(root), "--workers", "2").exit_code == 0
    board_events = invoke("status", str(root), "--json")
    assert json.loads(board_events.stdout)["nodes"] == {}  # a local run: no nodes
