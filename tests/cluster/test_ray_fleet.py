"""Workers on a real multi-node Ray cluster (one machine, loopback): everything lands once, through the
head's merger, and a node that dies mid-run loses nothing."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import ray
from raycluster import HEAD_IP, NODE_KEY, NODE_KEY_ENV, SLOTS_PER_NODE, WORKER_IPS, LocalCluster

from cli_helpers import FAST_RETRY, audit, git, invoke, make_repo, one_task_script
from fake_llm import FakeLLMServer, FakeReply, count_tool_results
from shipyard.board.sqlite import SqliteBoard
from shipyard.cli.sim import build_sim_model, with_sim_goal
from shipyard.cluster.doctor import cluster_rows
from shipyard.cluster.executor import RayExecutor
from shipyard.cluster.node import NodeJob
from shipyard.cluster.parts import node_models
from shipyard.cluster.shipping import Shipper
from shipyard.cluster.slots import SlotPool, per_actor
from shipyard.config import ShipyardConfig, load_config
from shipyard.domain import Event, Role, Task, TaskSpec, TaskStatus
from shipyard.fleet.run import Fleet
from shipyard.fleet.runtime import Runtime
from shipyard.git import GitRepo
from shipyard.report.fold import RunFold

# The head probes the cluster's address before it starts: loopback only, each node on its own address.
pytestmark = pytest.mark.allow_hosts(["127.0.0.1", "::1", HEAD_IP, *WORKER_IPS])

TRANSCRIPT = {"AgentStarted", "ModelCalled", "ToolCalled", "AgentFinished"}


def _cluster_toml(c: LocalCluster) -> str:
    return (
        f'[cluster]\nengine = "ray"\naddress = "{c.address}"\nnode_ip = "127.0.0.2"\n'
        f'node_dir = "{c.node_dir}"\npoll_s = 0.2\n'
    )


def _node_worker_toml(
    repo: Path, script: Path, server: FakeLLMServer, cluster: LocalCluster, extra: str = ""
) -> None:
    """Scripted planner and judge on the head; the worker's model (a fake server) called from a node,
    with the node's own key."""
    (repo / "shipyard.toml").write_text(
        f'goal = "write node.txt"\nworkers = 1\n[models]\nplanner = "scripted:{script}"\n'
        f'judge = "scripted:{script}"\nworker = "openai:fake-model"\n{extra}'
        f'[providers.openai]\nbase_url = "{server.openai_base_url}"\napi_key_env = "{NODE_KEY_ENV}"\n'
        + _cluster_toml(cluster)
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
        _cluster_toml(ray_cluster) + "[sim]\ntasks = 12\nthink_ms = 300\nhot_share = 0.5\nhot_files = 1\n"
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
    for task_id in code:  # each session's transcript arrives in the order the node logged it
        kinds = [e["kind"] for e in events if e["task_id"] == task_id and e["kind"] in TRANSCRIPT]
        sessions = kinds.count("AgentStarted")
        assert kinds[0] == "AgentStarted" and kinds[-1] == "AgentFinished"
        assert sessions == kinds.count("AgentFinished"), kinds
    board = SqliteBoard(repo / ".shipyard" / "board.sqlite")
    agents = RunFold().feed(board.events()).agents.views(time.time(), 180.0)
    board.close()
    shown = {a["name"]: a["node"] for a in agents if a["role"] == "worker"}
    assert shown and set(shown.values()) <= set(WORKER_IPS), "the dashboard shows each worker's node"
    status = json.loads(invoke("status", str(repo), "--json").stdout)
    assert status["tasks"]["claimed"] == 0 and status["tasks"]["open"] == 0
    assert status["tokens"] > 0
    landed = _landings(repo, [e["task_id"] for e in events if e["kind"] == "CommitMerged"])
    assert sorted(landed) == sorted(code) and set(landed.values()) == {1}
    assert len(list((repo / "sim").glob("a*/t*.txt"))) == 12
    # Half the tasks also append to one hot file: a conflict goes back to its worker's node with the new
    # tip, the worker resolves it there in a new session, and the resolution lands.
    for i, conflict in enumerate(events):
        if conflict["kind"] != "MergeConflicted":
            continue
        later = [e["kind"] for e in events[i:] if e["task_id"] == conflict["task_id"]]
        assert "AgentStarted" in later and "CommitMerged" in later, later
    assert any(e["kind"] == "MergeConflicted" for e in events), "no conflict round was exercised"
    assert git(repo, "status", "--porcelain") == ""


SHIPYARD = str(Path(sys.executable).with_name("shipyard"))


def test_a_head_restart_reconnects_and_returns_what_was_running(
    ray_cluster: LocalCluster, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "target")
    config = 'goal = "simulate"\nworkers = 4\n[models]\ndefault = "sim"\n'
    sim = "[sim]\ntasks = 10\nthink_ms = 1500\nhot_share = 0.0\n"
    (repo / "shipyard.toml").write_text(config + _cluster_toml(ray_cluster) + sim)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "settings")
    head = subprocess.Popen([SHIPYARD, "run", str(repo)], stdout=subprocess.PIPE, text=True)
    assert head.stdout is not None
    merged = 0
    for line in head.stdout:  # the head is killed once 3 tasks merged and others are on the nodes
        merged += " merged #" in line
        if merged == 3:
            break
    head.kill()
    head.wait(timeout=30)
    head.stdout.close()

    again = subprocess.run([SHIPYARD, "resume", str(repo)], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "all 10 sim tasks are on the shared branch" in again.stdout
    counts = audit(repo)  # every task final once, every merge on main, no leftovers, fsck clean
    assert counts["done"] == counts["tasks"]
    events = _events(repo)
    recovered = [e for e in events if e["kind"] == "RunRecovered"]
    assert recovered and recovered[0]["returned"], "tasks running at the kill went back to the board"
    landed = _landings(repo, [e["task_id"] for e in events if e["kind"] == "CommitMerged"])
    assert set(landed.values()) == {1} and len(landed) == 10


def test_a_worker_on_a_node_calls_the_model_server_and_runs_commands_in_the_sandbox(
    ray_cluster: LocalCluster, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "target")
    seen = f"ls {repo} >/dev/null 2>&1 && echo head-seen || echo head-hidden"  # the sandbox hides /tmp
    command = f"echo made-on-a-node > node.txt; {seen}"

    def worker(api: str, body: dict[str, Any]) -> FakeReply:
        if count_tool_results(api, body) == 0:
            return FakeReply(tool_calls=[("shell", {"command": command})])
        return FakeReply(tool_calls=[("finish", {"summary": "wrote node.txt"})])

    with FakeLLMServer(worker) as server:
        _node_worker_toml(repo, _planner_script(tmp_path), server, ray_cluster)
        result = invoke("run", str(repo))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert (repo / "node.txt").read_text() == "made-on-a-node\n"
    assert len(server.requests) == 2
    assert all(h.get("authorization") == f"Bearer {NODE_KEY}" for h in server.request_headers)
    events = _events(repo)
    placed = [e for e in events if e["kind"] == "WorkerPlaced"]
    assert len(placed) == 1 and placed[0]["node"] in WORKER_IPS
    shell = [e for e in events if e["kind"] == "ToolCalled" and e["tool"] == "shell"]
    assert len(shell) == 1 and "head-hidden" in shell[0]["result"], "the command ran in the sandbox"
    assert NODE_KEY not in json.dumps(events), "the node's key never reaches the log"


def test_an_attempt_on_a_node_is_kept_on_the_head_and_its_retry_continues_it(
    ray_cluster: LocalCluster, tmp_path: Path
) -> None:
    """Attempt 1 runs into its step limit on a node; its worktree comes back to the head's kept-attempt
    refs, and attempt 2 (on whichever node) starts from it and lands it."""
    repo = make_repo(tmp_path / "target")

    def worker(api: str, body: dict[str, Any]) -> FakeReply:
        if "PREVIOUS ATTEMPT: attempt 1" in json.dumps(body):
            return FakeReply(tool_calls=[("finish", {"summary": "finished what attempt 1 began"})])
        if count_tool_results(api, body) == 0:
            return FakeReply(tool_calls=[("write_file", {"path": "node.txt", "content": "attempt 1\n"})])
        return FakeReply(tool_calls=[("list_dir", {"path": "."})])

    with FakeLLMServer(worker) as server:
        _node_worker_toml(repo, _planner_script(tmp_path), server, ray_cluster, "[limits]\nmax_steps = 3\n")
        result = invoke("run", str(repo))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert (repo / "node.txt").read_text() == "attempt 1\n"
    events = _events(repo)
    (kept,) = [e for e in events if e["kind"] == "AttemptKept"]
    assert kept["attempt"] == 1 and kept["ended"] == "limit"
    assert git(repo, "show", f"{kept['ref']}:node.txt") == "attempt 1\n"
    (continued,) = [e for e in events if e["kind"] == "AttemptContinued"]
    assert continued["from_attempt"] == 1 and continued["files"] == 1
    assert len([e for e in events if e["kind"] == "WorkerPlaced"]) == 2


def test_doctor_checks_the_cluster_and_what_each_node_lacks(
    ray_cluster: LocalCluster, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "target")
    (repo / "shipyard.toml").write_text(
        'goal = "g"\n[models]\ndefault = "sim"\n' + _cluster_toml(ray_cluster)
    )
    result = invoke("doctor", str(repo))
    assert result.exit_code == 0, result.stdout
    text = " ".join(result.stdout.split())
    assert "ray cluster │ ok │ 3 nodes alive, 8 worker slots" in text
    assert all(f"ray node {ip} │ ok" in text for ip in WORKER_IPS)

    absent = '[providers.openai]\napi_key_env = "SHIPYARD_ABSENT_KEY"\n'
    (repo / "shipyard.toml").write_text(
        'goal = "g"\n[models]\ndefault = "sim"\nworker = "openai:m"\n' + absent + _cluster_toml(ray_cluster)
    )
    assert invoke("doctor", str(repo)).exit_code == 1
    rows = {row.check: row for row in cluster_rows(load_config(repo))}
    for ip in WORKER_IPS:
        assert rows[f"ray node {ip}"].status == "missing"
        assert rows[f"ray node {ip}"].seen == "lacks $SHIPYARD_ABSENT_KEY"


def test_a_budget_reached_by_remote_workers_stops_the_run(ray_cluster: LocalCluster, tmp_path: Path) -> None:
    """The nodes' usage reaches the head's totals, so its budget stops the fleet and their agents."""
    repo = make_repo(tmp_path / "target")
    sim = "[sim]\ntasks = 24\nthink_ms = 400\nhot_share = 0.0\n[budget]\ntokens = 20000\n"
    (repo / "shipyard.toml").write_text(_cluster_toml(ray_cluster) + sim)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "settings")
    result = invoke("run", str(repo), "--model", "sim", "--workers", "6")
    assert result.exit_code == 1, result.stdout
    assert "budget reached" in result.stdout
    status = json.loads(invoke("status", str(repo), "--json").stdout)
    assert status["tasks"]["claimed"] == 0, "every running task went back"
    assert 0 < status["tasks"]["done"] < 24
    calls = [e for e in _events(repo) if e["kind"] == "ModelCalled"]
    by_workers = sum(e["input_tokens"] + e["output_tokens"] for e in calls if e["role"] == "worker")
    total = sum(e["input_tokens"] + e["output_tokens"] for e in calls)
    assert total - by_workers < 20000 <= total, "the nodes' usage, relayed to the head, reached the budget"


def test_chaos_on_the_cluster_loses_nothing(ray_cluster: LocalCluster, tmp_path: Path) -> None:
    """Workers killed mid-task (their actors with them), model and git errors: every task still ends."""
    repo = make_repo(tmp_path / "target")
    chaos = "[chaos]\nworker_death_rate = 0.3\nmodel_error_rate = 0.2\ngit_error_rate = 0.05\nseed = 2\n"
    sim = "[sim]\ntasks = 12\nthink_ms = 300\nhot_share = 0.25\n"
    (repo / "shipyard.toml").write_text(_cluster_toml(ray_cluster) + sim + chaos + FAST_RETRY)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "settings")
    result = invoke("run", str(repo), "--model", "sim", "--workers", "6")
    assert result.exit_code == 0, result.stdout
    counts = audit(repo)
    assert counts["done"] >= 12
    events = _events(repo)
    assert any(e["kind"] == "WorkerKilled" for e in events), "chaos killed some workers"
    landed = _landings(repo, [e["task_id"] for e in events if e["kind"] == "CommitMerged"])
    assert set(landed.values()) == {1}


def _planner_script(tmp_path: Path) -> Path:
    return one_task_script(tmp_path / "script.json", "node.txt")


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
    audit(repo)
    dead = [n for n in ray.nodes() if n["NodeID"] == ray_cluster.node_id(victim)]
    assert dead and not dead[0]["Alive"]


def test_a_stopped_slot_stops_alone_and_its_actors_other_slot_finishes(
    ray_cluster: LocalCluster, tmp_path: Path
) -> None:
    """Slots share an actor process; a cancelled task's slot is stopped on its own (not by killing the
    actor, which would take the other slot's work along)."""
    repo = make_repo(tmp_path / "target")
    start = git(repo, "rev-parse", "main").strip()
    cluster = {"engine": "ray", "address": ray_cluster.address, "node_ip": HEAD_IP}
    cluster |= {"node_dir": str(ray_cluster.node_dir), "slots_per_actor": 2}
    raw = {"models": {"default": "sim"}, "sim": {"think_ms": 4000, "think_jitter": 0.0}, "cluster": cluster}
    config = ShipyardConfig.model_validate({**raw, "sandbox": {"enabled": False}})
    ends = asyncio.run(_two_slots_one_stopped(config, GitRepo.open(repo), start))
    assert isinstance(ends[0], BaseException), "the stopped slot's session ended without finishing"
    assert not isinstance(ends[1], BaseException) and ends[1].outcome.stop_reason.value == "finished"


async def _two_slots_one_stopped(config: ShipyardConfig, repo: GitRepo, start: str) -> list[Any]:
    pool = SlotPool(config.cluster, node_models, warm=2)
    try:
        slots = [await pool.acquire(), await pool.acquire()]
        assert slots[0].actor.actor is slots[1].actor.actor, "both slots are in one actor process"
        sessions = []
        for n, slot in enumerate(slots, start=1):
            await Shipper().ensure(repo, slot, start)
            task = Task(n, TaskSpec(title=f"sim task {n}"))
            await slot.actor.open.remote(NodeJob(config, task, f"worker-{n}", start))
            sessions.append(slot.actor.session.remote(""))
        pool.lost(slots[0], kill=True)  # what the runner does when its task is cancelled
        return list(await asyncio.gather(*sessions, return_exceptions=True))
    finally:
        pool.close()


def test_an_actor_never_asks_for_more_slots_than_a_node_offers(ray_cluster: LocalCluster) -> None:
    raw = {"engine": "ray", "address": ray_cluster.address, "node_dir": str(ray_cluster.node_dir)}
    cluster = ShipyardConfig.model_validate({"cluster": {**raw, "slots_per_actor": 16}}).cluster
    assert per_actor(cluster) == SLOTS_PER_NODE, "an actor of 16 slots would fit no node and wait forever"

    async def one_slot() -> bool:
        pool = SlotPool(cluster, node_models)
        try:
            slot = await asyncio.wait_for(pool.acquire(), 60)
            return bool(await slot.actor.hello.remote())
        finally:
            pool.close()

    assert asyncio.run(one_slot())
