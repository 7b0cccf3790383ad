"""A small `shipyard bench` through the CLI: every scenario, a few seconds, rows and files as promised."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from cli_helpers import invoke
from shipyard.bench.measure import filesystem

COLUMNS = {
    "coordination": {
        "agents",
        "tasks",
        "think_ms",
        "tasks_per_s",
        "efficiency",
        "cpu_ms_per_task",
        "peak_rss_mb",
    },
    "git": {
        "agents",
        "mix",
        "merged_per_s",
        "p50_merge_s",
        "p95_merge_s",
        "conflicts_per_task",
        "retries_per_task",
        "lost_commits",
        "disk",
    },
    "baselines": {"design", "agents", "tasks_per_s", "effective_agents", "shipyard_ratio"},
}


def test_a_small_bench_writes_its_table_json_and_plot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    result = invoke(
        "bench",
        "--scenario", "coordination",
        "--scenario", "git:disjoint,hot,merge_batched",
        "--scenario", "baselines",
        "--agents", "1,3",
        "--think-ms", "10",
        "--tasks-per-agent", "2",
        "--json", str(out),
        "--plot", str(png),
    )  # fmt: skip
    assert result.exit_code == 0, result.stdout
    assert "coordination: scheduler + SQLite board" in result.stdout
    progress = [line for line in result.stdout.splitlines() if line.startswith("  ")]
    assert "  coordination, 1 worker: " in progress[0] and "  coordination, 3 workers: " in progress[1]
    assert sum(line.startswith("  git hot, ") for line in progress) == 2  # each row as it is measured
    assert any(line.startswith("  baselines locks, 3 agents: ") for line in progress)
    data = json.loads(out.read_text())
    assert set(data) == set(COLUMNS)
    for scenario, columns in COLUMNS.items():
        assert data[scenario], scenario
        assert all(columns <= set(row) for row in data[scenario]), scenario
    assert [r["agents"] for r in data["coordination"]] == [1, 3]
    assert {(r["mix"], r["agents"]) for r in data["git"]} == {
        (mix, n) for mix in ("disjoint", "hot", "merge_batched") for n in (1, 3)
    }
    assert all(r["lost_commits"] == 0 for r in data["git"])
    assert list(scratch.iterdir()) == []  # every run's repository is gone once the bench ends
    designs = {r["design"] for r in data["baselines"]}
    assert designs == {"shipyard", "shipyard_git", "locks", "flat_occ", "push_retry"}
    assert all(r["shipyard_ratio"] is not None for r in data["baselines"] if r["vs"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_scenarios_and_sizes_get_one_line_and_exit_2() -> None:
    bad = invoke("bench", "--scenario", "gti")
    assert bad.exit_code == 2 and "unknown scenario `gti`" in bad.stderr
    variant = invoke("bench", "--scenario", "git:lukewarm")
    assert variant.exit_code == 2 and "unknown variant `lukewarm` of `git`" in variant.stderr
    sizes = invoke("bench", "--agents", "0,4")
    assert sizes.exit_code == 2 and "between 1 and 4096" in sizes.stderr


def test_the_disk_of_a_path_is_named() -> None:
    assert filesystem(Path("/proc/self")) == "proc"
    assert filesystem(Path("/dev/shm")) == "tmpfs"
    assert filesystem(Path("/")) not in ("?", "proc", "tmpfs")
