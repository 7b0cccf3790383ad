"""The benchmark's pure parts and its simulated peers: options, percentiles, targets, the status file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shipyard.bench.measure import percentile
from shipyard.bench.peers import flat_occ, locks
from shipyard.bench.suite import configure
from shipyard.bench.targets import verdicts
from shipyard.errors import ConfigError
from shipyard.models.sim import SimWorkload


def test_percentile_by_nearest_rank() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0


def test_configure_picks_scenarios_and_overrides_them_all() -> None:
    opts = configure(["git:hot", "baselines:locks"], [2, 8], think_ms=5, per_agent=3)
    assert opts.coordination is None
    assert opts.git is not None and opts.git.variants == ("hot",) and opts.git.sizes == (2, 8)
    assert opts.baselines is not None and opts.baselines.variants == ("locks",)
    assert opts.baselines.think_ms == opts.baselines.git_think_ms == 5 and opts.baselines.per_agent == 3
    full = configure([])
    assert full.coordination is not None and full.coordination.sizes == (1, 4, 16, 64, 256, 1024)
    with pytest.raises(ConfigError, match="unknown scenario"):
        configure(["speed"])


def test_targets_report_met_and_missed() -> None:
    found = verdicts(
        {
            "coordination": [
                {"agents": 256, "efficiency": 0.95, "think_ms": 100.0, "tasks": 10},
                {"agents": 1024, "efficiency": 0.7, "think_ms": 100.0, "tasks": 10},
            ],
            "baselines": [
                {"design": "locks", "agents": 20, "effective_agents": 2.4, "vs": "x", "shipyard_ratio": 7.0}
            ],
        }
    )
    assert [(v.target, v.met) for v in found] == [
        ("coordination efficiency >= 0.9 at 256", True),
        ("coordination efficiency >= 0.8 at 1024", False),
        ("locks: about 2-3 effective agents of 20", True),
        ("Shipyard beats locks at 20", True),
    ]


def test_the_cluster_scenario_runs_only_when_named_and_checks_its_targets() -> None:
    assert configure([]).cluster is None, "the default needs no Ray"
    picked = configure(["cluster"], [8])
    assert picked.cluster is not None and picked.cluster.sizes == (8,) and picked.git is None
    ray = {"run": "ray", "workers": 24, "tasks": 96, "efficiency": 0.4, "vs_local": 0.85, "wait_out_p50": 0.0}
    ray |= {"back_p50": 20.0, "ship_p50": 300.0, "done": None}
    fault = {"run": "ray, a node killed", "tasks": 96, "vs_local": None, "done": 96, "lost_commits": 0}
    fault |= {"merged_twice": 1}
    found = {v.target: v.met for v in verdicts({"cluster": [ray, fault]})}
    assert found == {
        "cluster: efficiency >= 0.9 of local": False,
        "cluster: code out, per task p50 <= 100 ms": True,
        "cluster: commit back, per task p50 <= 100 ms": True,
        "cluster: one shipment to a node p50 <= 100 ms": False,
        "cluster: a node killed mid-run loses nothing": False,
    }


@pytest.mark.parametrize("design", [locks, flat_occ])
def test_simulated_peers_do_every_task_once(tmp_path: Path, design: object) -> None:
    w = SimWorkload(tasks=12, think_ms=2)
    run = asyncio.run(design(tmp_path, 4, w))  # type: ignore[operator]
    assert run.tasks_done == 12
    assert '"open"' not in (tmp_path / "status.json").read_text()
    assert (tmp_path / "status.json").read_text().count('"done"') == 12
