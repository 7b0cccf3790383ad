"""A worker slot's node side with a CLI worker, without Ray: the run's spending travels with the task so
the node's gateway (and its built-in loop) refuses a call once the run's budget is reached, and a node
that cannot run the CLI stops the run with a line that names the node and the fix."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from cli_workers import claude_worker, cli_binary

from cli_helpers import git, make_repo
from fake_llm import INPUT_TOKENS, OUTPUT_TOKENS, FakeLLMServer
from shipyard.agent import StopReason
from shipyard.cluster.node import NodeJob, NodeModels, NodeSlot, Shipment
from shipyard.cluster.parts import node_models
from shipyard.cluster.spend import Spent
from shipyard.config import ShipyardConfig
from shipyard.domain import Role, Task, TaskSpec
from shipyard.git.bundle import create_bundle
from shipyard.models.base import ModelRequest, ModelResponse
from shipyard.models.scripted import ScriptedModel, call, turn

KEY_ENV, KEY = "SHIPYARD_NODE_CLI_KEY", "node-cli-key-5c1e9a7f3b2d"


def _slot(tmp_path: Path, models: NodeModels = node_models) -> tuple[NodeSlot, str]:
    """A slot whose mirror holds the target's `main`, and that commit."""
    head = make_repo(tmp_path / "head")
    start = git(head, "rev-parse", "main").strip()
    slot = NodeSlot(tmp_path / "nodes", "n1", "s1", models)
    slot.mirror.receive(Shipment(start, create_bundle(head, start)))
    return slot, start


def _job(start: str, worker: dict[str, Any], spent: Spent, budget: dict[str, Any]) -> NodeJob:
    raw = {"goal": "g", "backends": {"worker": [worker]}, "budget": budget}
    task = Task(1, TaskSpec(title="Write hello.py"))
    return NodeJob(ShipyardConfig.model_validate(raw), task, "worker-1", start, spent=spent)


def test_the_node_counts_on_from_the_runs_spending_and_refuses_past_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    slot, start = _slot(tmp_path)
    before = 1000 - INPUT_TOKENS - OUTPUT_TOKENS  # one more call of the worker reaches the budget
    with FakeLLMServer(claude_worker) as server:
        worker = {"cli": "claude", "binary": str(cli_binary("claude")), "base_url": server.url}
        worker |= {"model": "claude-sonnet-4-5", "api_key_env": KEY_ENV, "idle_timeout_s": 60}
        slot.open(_job(start, worker, Spent(tokens=before), {"tokens": 1000}))
        end = asyncio.run(slot.session(""))
    assert len(server.requests) == 1, "the second call would pass the run's budget: refused on the node"
    assert end.outcome.stop_reason is StopReason.MODEL_ERROR and end.fatal == ""
    texts = [e.data["text"] for e in end.events if e.kind == "ModelCalled"]
    assert "[gateway] call refused: budget reached: 1000 of 1000 tokens" in texts
    slot.close()
    slot.release()


def test_a_node_without_the_cli_stops_the_run_and_names_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    slot, start = _slot(tmp_path)
    worker = {"cli": "codex", "binary": str(tmp_path / "no-codex"), "api_key_env": KEY_ENV}
    slot.open(_job(start, worker, Spent(), {}))
    end = asyncio.run(slot.session(""))
    assert end.outcome.stop_reason is StopReason.MODEL_ERROR
    assert (
        end.fatal.startswith("on Ray node ")
        and "the `codex` CLI for backends.worker is not installed" in end.fatal
    )
    assert "npm install -g @openai/codex" in end.fatal
    finished = [e for e in end.events if e.kind == "AgentFinished"]
    assert finished and finished[0].data["error"] == end.fatal
    slot.close()
    slot.release()


def test_the_built_in_loop_on_a_node_also_stops_at_the_runs_budget(tmp_path: Path) -> None:
    calls: list[str] = []

    def worker(req: ModelRequest) -> ModelResponse:
        calls.append(req.agent)
        return turn(call("write_file", path="a.txt", content="a\n"), tokens=(100, 20))

    scripted = ScriptedModel(programs={Role.WORKER: worker})
    slot, start = _slot(tmp_path, lambda _config, _fatal: {Role.WORKER: scripted})
    raw = {"models": {"default": "sim"}, "budget": {"tokens": 1000}, "sandbox": {"enabled": False}}
    task = Task(1, TaskSpec(title="Write a.txt"))
    slot.open(NodeJob(ShipyardConfig.model_validate(raw), task, "worker-1", start, spent=Spent(tokens=900)))
    end = asyncio.run(slot.session(""))
    assert calls == ["worker-1"], "900 + 120 tokens reach the run's budget: no second call"
    assert end.outcome.stop_reason is StopReason.MODEL_ERROR
    assert "budget reached: 1020 of 1000 tokens" in (end.outcome.error or "")
    slot.close()
    slot.release()
