"""Claude Code and Codex as workers on Ray nodes (one machine, loopback): each node builds the CLI and a
gateway of its own from its own environment, the head gets the commit, the transcript and the usage
(counted once), and the run's budget and stop reach the node's gateway."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from cli_workers import CODEX_PRICE, HELLO, MODELS, WORKERS, claude_worker, cli_binary
from raycluster import HEAD_IP, NODE_KEY, NODE_KEY_ENV, WORKER_IPS, LocalCluster

from cli_helpers import git, invoke, make_repo, one_task_script
from fake_llm import INPUT_TOKENS, OUTPUT_TOKENS, FakeLLMServer, FakeReply
from shipyard.agent import StopReason
from shipyard.board.memory import InMemoryBoard
from shipyard.board.sqlite import SqliteBoard
from shipyard.cluster.doctor import cluster_rows
from shipyard.cluster.node import NodeJob, SessionEnd
from shipyard.cluster.parts import node_models
from shipyard.cluster.relay import Relay
from shipyard.cluster.shipping import Shipper
from shipyard.cluster.slots import SlotPool
from shipyard.config import ShipyardConfig, load_config
from shipyard.domain import Event, Task, TaskSpec
from shipyard.fleet.ledger import totals_from_events
from shipyard.fleet.runtime import Runtime
from shipyard.git import GitRepo
from shipyard.models.base import Usage
from shipyard.models.pricing import price_usd

pytestmark = pytest.mark.allow_hosts(["127.0.0.1", "::1", HEAD_IP, *WORKER_IPS])


def _backend(cli: str, server: FakeLLMServer, key_env: str = NODE_KEY_ENV) -> dict[str, Any]:
    """The `[[backends.worker]]` table: the CLI reads the node's own key, named (never valued) here."""
    url = server.url if cli == "claude" else server.openai_base_url
    return {
        "cli": cli,
        "model": MODELS[cli][0],
        "binary": str(cli_binary(cli)),
        "base_url": url,
        "api_key_env": key_env,
        "idle_timeout_s": 60,
    }


def _cluster(c: LocalCluster) -> dict[str, Any]:
    node_dir = str(c.node_dir)
    return {"engine": "ray", "address": c.address, "node_ip": HEAD_IP, "node_dir": node_dir, "poll_s": 0.1}


def _toml(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str | Path) else str(value)


def _write_config(repo: Path, script: Path, raw: dict[str, Any]) -> None:
    """shipyard.toml: a scripted planner and judge on the head, `raw`'s tables (one level) after."""
    lines = ['goal = "write hello.py"', "workers = 1", "[models]"]
    lines += [f'planner = "scripted:{script}"', f'judge = "scripted:{script}"']
    for name, table in raw.items():
        entries = table if isinstance(table, list) else [table]
        for entry in entries:
            lines.append(f"[[{name}]]" if isinstance(table, list) else f"[{name}]")
            lines += [f"{k} = {_toml(v)}" for k, v in entry.items()]
    (repo / "shipyard.toml").write_text("\n".join(lines) + "\n")


def _script(tmp_path: Path) -> Path:
    return one_task_script(tmp_path / "script.json", "hello.py")


def _events(repo: Path) -> list[Event]:
    board = SqliteBoard(repo / ".shipyard" / "board.sqlite")
    try:
        return board.events()
    finally:
        board.close()


def _served_cost(cli: str, calls: int) -> float:
    usage = Usage(input_tokens=INPUT_TOKENS, output_tokens=OUTPUT_TOKENS)
    model, provider = MODELS[cli]
    one = price_usd(provider, model, usage, CODEX_PRICE if cli == "codex" else None)
    assert one is not None and one > 0
    return calls * one


def _prices(cli: str) -> dict[str, Any]:
    price = {"input_per_mtok": CODEX_PRICE.input_per_mtok, "output_per_mtok": CODEX_PRICE.output_per_mtok}
    return {'prices."openai:fake-codex"': price} if cli == "codex" else {}


@pytest.mark.parametrize("cli", ["claude", "codex"])
def test_a_cli_worker_on_a_node_lands_its_task_with_the_nodes_own_key(
    ray_cluster: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: str
) -> None:
    repo = make_repo(tmp_path / "target")
    monkeypatch.delenv(NODE_KEY_ENV)  # only the nodes hold the key: the head never needs it
    with FakeLLMServer(WORKERS[cli]) as server:
        tables = {
            "backends.worker": [_backend(cli, server)],
            "cluster": _cluster(ray_cluster),
            **_prices(cli),
        }
        _write_config(repo, _script(tmp_path), tables)
        result = invoke("run", str(repo))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "state: done" in result.stdout
    assert git(repo, "show", "main:hello.py") == HELLO, "the node's commit landed through the head"
    assert "worker-1 Write hello.py" in git(repo, "log", "--format=%an %s", "main")
    sent = [
        h.get("x-api-key") or h.get("authorization", "").removeprefix("Bearer ")
        for h in server.request_headers
    ]
    assert server.requests and set(sent) == {NODE_KEY}, "the node's gateway put the node's key on each call"

    events = _events(repo)
    placed = [e for e in events if e.kind == "WorkerPlaced"]
    assert len(placed) == 1 and placed[0].data["node"] in WORKER_IPS
    finished = [e for e in events if e.kind == "AgentFinished" and e.agent == "worker-1"]
    assert finished and finished[0].data["backend"] == f"{cli}:{MODELS[cli][0]}"
    calls = [e.data for e in events if e.kind == "ModelCalled" and e.agent == "worker-1"]
    metered = [(c["input_tokens"], c["output_tokens"]) for c in calls if c["input_tokens"]]
    assert metered == [(INPUT_TOKENS, OUTPUT_TOKENS)] * len(server.requests), "each call counted once"
    totals = totals_from_events(events)  # the head's totals (status and resume count the same way)
    assert totals.cost_usd == pytest.approx(_served_cost(cli, len(server.requests)))
    assert totals.by_role_usd["worker"] == pytest.approx(totals.cost_usd)
    assert NODE_KEY not in json.dumps([e.data for e in events]), "the node's key never reaches the head"


def test_a_budget_reached_on_the_head_stops_the_nodes_cli_at_its_next_call(
    ray_cluster: LocalCluster, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "target")
    with FakeLLMServer(claude_worker) as server:
        budget = {"budget": {"usd": 0.00001}}  # spent by the first call (the scripted planner is free)
        tables = {"backends.worker": [_backend("claude", server)], "cluster": _cluster(ray_cluster)}
        _write_config(repo, _script(tmp_path), {**tables, **budget})
        result = invoke("run", str(repo))
    assert result.exit_code == 1, result.stdout + result.stderr
    # the head's own totals stopped it: the one call served, counted once
    assert f"state: stopped (budget reached: ${_served_cost('claude', 1):.4f} of" in result.stdout
    assert len(server.requests) == 1, "the node's gateway refused the second call"
    calls = [e.data for e in _events(repo) if e.kind == "ModelCalled" and e.agent == "worker-1"]
    assert [c["input_tokens"] for c in calls if c["input_tokens"]] == [INPUT_TOKENS]
    assert any(c["text"].startswith("[gateway] call refused: budget reached") for c in calls)
    assert "hello.py" not in git(repo, "ls-tree", "--name-only", "main")


def test_the_head_halts_a_busy_node_and_its_gateway_refuses_the_next_call(
    ray_cluster: LocalCluster, tmp_path: Path
) -> None:
    """A stop on the head (here the person's) reaches a node while its CLI waits for a reply."""
    repo = make_repo(tmp_path / "target")
    start = git(repo, "rev-parse", "main").strip()
    first, go = threading.Event(), threading.Event()

    def held_claude(api: str, body: dict[str, Any]) -> FakeReply:
        first.set()
        assert go.wait(60), "the test never let the first reply go"
        return claude_worker(api, body)

    with FakeLLMServer(held_claude) as server:
        raw = {"backends": {"worker": [_backend("claude", server)]}, "cluster": _cluster(ray_cluster)}
        config = ShipyardConfig.model_validate({"goal": "g", **raw})
        head = Runtime(config, GitRepo.open(repo), InMemoryBoard(), {})
        end, events, reason = asyncio.run(_halted_session(head, start, first, go))
    assert reason == "stopped by the person"
    assert len(server.requests) == 1, "the second call never left the node"
    assert end.outcome.stop_reason is not StopReason.FINISHED
    assert "refused" in (end.outcome.error or "")
    texts = [e.data["text"] for e in events if e.kind == "ModelCalled"]
    assert "[gateway] call refused: stopped by the person" in texts


async def _halted_session(
    head: Runtime, start: str, first: threading.Event, go: threading.Event
) -> tuple[SessionEnd, list[Event], str]:
    pool = SlotPool(head.config.cluster, node_models)
    try:
        slot = await pool.acquire()
        await Shipper().ensure(head.repo, slot, start)
        task = Task(1, TaskSpec(title="Write hello.py"))
        await slot.actor.open.remote(NodeJob(head.config, task, "worker-1", start))
        session = slot.actor.session.remote("")
        assert await asyncio.to_thread(first.wait, 60), "the CLI never called the model"
        head.stop.set("stopped by the person")
        relay = Relay(head, slot.actor, task, "worker-1")
        await relay.pull()  # what the head does every `poll_s` while the task runs
        reason = relay.halted
        go.set()
        end: SessionEnd = await session
        events = [*head.board.events(), *end.events]  # what the relay brought, then the session's end
        return end, events, reason
    finally:
        go.set()
        pool.close()


def test_doctor_names_a_node_that_lacks_the_workers_cli_or_its_key(
    ray_cluster: LocalCluster, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "target")
    cluster = _cluster(ray_cluster)
    present = {"cli": "codex", "binary": str(cli_binary("codex")), "api_key_env": NODE_KEY_ENV}
    _write_config(repo, _script(tmp_path), {"backends.worker": [present], "cluster": cluster})
    rows = {row.check: row for row in cluster_rows(load_config(repo))}
    for ip in WORKER_IPS:
        assert rows[f"ray node {ip}"].status == "ok", rows[f"ray node {ip}"]
        assert "the codex CLI" in rows[f"ray node {ip}"].seen

    absent = {"cli": "codex", "binary": "/nonexistent/codex", "api_key_env": "SHIPYARD_ABSENT_KEY"}
    _write_config(repo, _script(tmp_path), {"backends.worker": [absent], "cluster": cluster})
    rows = {row.check: row for row in cluster_rows(load_config(repo))}
    for ip in WORKER_IPS:
        row = rows[f"ray node {ip}"]
        assert row.status == "missing"
        assert row.seen == (
            "lacks the codex CLI (/nonexistent/codex; npm install -g @openai/codex), $SHIPYARD_ABSENT_KEY"
        )
