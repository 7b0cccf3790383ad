"""Workers on a real multi-node Ray cluster (one machine, loopback): everything lands once, through the
head's merger, and a node that dies mid-run loses nothing."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import ray
from raycluster import WORKER_IPS, LocalCluster

from cli_helpers import git, invoke, make_repo
from shipyard.board.sqlite import SqliteBoard
from shipyard.cli.sim import build_sim_model, with_sim_goal
from shipyard.cluster.executor import RayExecutor
from shipyard.config import ShipyardConfig
from shipyard.domain import Event, Role, TaskStatus
from shipyard.fleet.run import Fleet
from shipyard.fleet.runtime import Runtime
from shipyard.git import GitRepo


def _cluster_toml(c: LocalCluster) -> str:
    return (
        f'[cluster]\nengine = "ray"\naddress = "{c.address}"\nnode_ip = "127.0.0.2"\n'
        f'node_dir = "{c.node_dir}"\npoll_s = 0.2\n'
    )


def _events(repo: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(repo / ".shipyard" / "board.sqlite") as db:
        rows = db.execute("SELECT kind, task_id, agent, data FROM events ORDER BY id").fetchall()
    return [{**json.loads(d), "kind": k, "task_id": t, "agent": a} for k, t, a, d in rows]


def _landings(repo: Path, merged_task_ids: list[int | None]) -> dict[int, int]:
    """Landings per task: `CommitMerged` events, checked against main, where each task's merge commit
    (made by the merger, named `Shipyard-Agent:`) may appear at most once."""
    made: Counter[int] = Counter()
    for body in git(repo, "log", "main", "--format=%B%x00").split("\0"):
        if "Shipyard-Agent:" in body:
            made.update(int(x) for x in re.findall(r"^Shipyard-Task: #(\d+)$", body, re.M))
    assert all(n == 1 for n in made.values()), f"a task merged twice: {made}"
    return dict(Counter(t for t in merged_task_ids if t is not None))


def test_a_sim_fleet_across_the_nodes_lands_everything_once(
    ray_cluster: LocalCluster, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "target")
    (repo / "shipyard.toml").write_text(
        _cluster_toml(ray_cluster) + "[sim]\ntasks = 12\nthink_ms = 300\nhot_share = 0.25\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "settings")
    result = invoke("run", str(repo), "--model", "sim", "--workers", "6")
    assert result.exit_code == 0, result.stdout
    assert "all 12 sim tasks are on the shared branch" in result.stdout

    events = _events(repo)
    placed = [e for e in events if e["kind"] == "WorkerPlaced"]
    assert {e["node"] for e in placed} == set(WORKER_IPS), "the slots spread over both worker nodes"
    code = {e["task_id"] for e in placed}
    assert len(code) == 12
    # The agents ran on the nodes, yet their transcripts and usage are in the head's log.
    worked = {e["task_id"] for e in events if e["kind"] == "ToolCalled" and e["tool"] == "write_file"}
    assert code <= worked
    status = json.loads(invoke("status", str(repo), "--json").stdout)
    assert status["tasks"]["claimed"] == 0 and status["tasks"]["open"] == 0
    assert status["tokens"] > 0
    landed = _landings(repo, [e["task_id"] for e in events if e["kind"] == "CommitMerged"])
    assert sorted(landed) == sorted(code) and set(landed.values()) == {1}
    assert len(list((repo / "sim").glob("a*/t*.txt"))) == 12
    assert git(repo, "status", "--porcelain") == ""


def _runtime(repo: Path, cluster: LocalCluster, **extra: Any) -> Runtime:
    raw = {
        "models": {"default": "sim"},
        "workers": 8,
        "sim": {"tasks": 16, "think_ms": 1500, "think_jitter": 0.3, "hot_share": 0.0},
        "cluster": {
            "engine": "ray",
            "address": cluster.address,
            "node_ip": "127.0.0.2",
            "node_dir": str(cluster.node_dir),
            "poll_s": 0.2,
        },
        **extra,
    }
    config = with_sim_goal(ShipyardConfig.model_validate(raw))
    model = build_sim_model(config)
    board = SqliteBoard(repo / ".shipyard" / "board.sqlite")
    return Runtime(config, GitRepo.open(repo), board, {r: model for r in Role})


def test_a_node_killed_mid_run_loses_nothing_and_merges_nothing_twice(
    ray_cluster: LocalCluster, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "target")
    rt = _runtime(repo, ray_cluster)
    victim = WORKER_IPS[1]
    merged, killed = [0], threading.Event()

    def kill_node() -> None:
        ray_cluster.cluster.remove_node(ray_cluster.nodes[victim], allow_graceful=False)
        killed.set()

    def on_event(event: Event) -> None:
        if event.kind == "CommitMerged":
            merged[0] += 1
            if merged[0] == 4:
                threading.Thread(target=kill_node, daemon=True).start()

    rt.progress = on_event
    executor = RayExecutor(rt.config.cluster, rt.config.workers)
    try:
        result = asyncio.run(Fleet(rt, executor).run())
    finally:
        executor.close()
    assert killed.wait(60)
    assert result.state == "done", result.reason

    events = rt.board.events()
    lost = [e for e in events if e.kind == "WorkerLost"]
    assert lost, "the killed node had tasks in flight"
    assert all(e.data["error"] in ("ActorDiedError", "ActorUnavailableError") for e in lost)
    for e in lost:  # each lost task went back at once and ran again on the surviving node
        later = [x for x in events if x.id > e.id and x.task_id == e.task_id]
        assert any(x.kind == "TaskReleased" and "lost:" in x.data.get("reason", "") for x in later)
        assert any(x.kind == "WorkerPlaced" and x.data["node"] == WORKER_IPS[0] for x in later)
        assert any(x.kind == "TaskCompleted" for x in later)
    code = {e.task_id for e in events if e.kind == "WorkerPlaced"}
    assert len(code) == 16
    assert all(t.status is TaskStatus.DONE for t in rt.board.tasks())
    landed = _landings(repo, [e.task_id for e in events if e.kind == "CommitMerged"])
    assert sorted(landed) == sorted(code) and set(landed.values()) == {1}, "merged at most once"
    assert len(list((repo / "sim").glob("a*/t*.txt"))) == 16
    dead = [n for n in ray.nodes() if n["NodeID"] == ray_cluster.node_id(victim)]
    assert dead and not dead[0]["Alive"]
