"""The sandbox through the CLI: a missing bubblewrap stops `run` before anything is written unless the
person opts out; `[sandbox]` is validated; `sandbox-bench` prints the overhead per command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cli_helpers import invoke, make_repo, snapshot, write_script

MISSING = '[sandbox]\nbwrap = "/nonexistent/bwrap"\n'


def _config(repo: Path, tmp_path: Path, sandbox: str) -> None:
    script = write_script(
        tmp_path / "script.json",
        {
            "planner": [{"tool_calls": [{"name": "finish", "arguments": {"summary": "nothing to do"}}]}],
            "judge": [
                {"tool_calls": [{"name": "verdict", "arguments": {"decision": "stop", "notes": "ok"}}]}
            ],
        },
    )
    (repo / "shipyard.toml").write_text(
        f'goal = "x"\nmax_cycles = 1\n[models]\ndefault = "scripted:{script}"\n' + sandbox
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "target")


def test_missing_bubblewrap_stops_the_run_before_anything_is_written(repo: Path, tmp_path: Path) -> None:
    _config(repo, tmp_path, MISSING)
    before = snapshot(repo)
    result = invoke("run", str(repo))
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "shipyard: error: sandbox: bubblewrap is not installed (no `/nonexistent/bwrap`"
    )
    assert "apt-get install bubblewrap" in lines[0] and "allow_unsandboxed = true" in lines[0]
    assert snapshot(repo) == before


def test_the_person_may_opt_out_of_the_sandbox(repo: Path, tmp_path: Path) -> None:
    _config(repo, tmp_path, MISSING + "allow_unsandboxed = true\n")
    result = invoke("run", str(repo))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "state: done" in result.stdout


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ("[sandbox]\nnetwork = 'yes please'\n", "`sandbox.network`"),
        ("[sandbox]\nmax_processes = -1\n", "`sandbox.max_processes`"),
        ("[sandbox]\nextra_ro_paths = ['relative/dir']\n", "`relative/dir` is not an absolute path"),
        ("[sandbox]\nnetwrok = true\n", "`sandbox.netwrok`: unknown key"),
    ],
)
def test_sandbox_settings_are_validated(repo: Path, tmp_path: Path, table: str, needle: str) -> None:
    _config(repo, tmp_path, table)
    before = snapshot(repo)
    result = invoke("run", str(repo))
    assert result.exit_code == 2 and needle in result.stderr, result.stderr
    assert snapshot(repo) == before


def test_the_benchmark_prints_the_overhead_per_command() -> None:
    result = invoke("sandbox-bench", "--runs", "3")
    assert result.exit_code in (0, 1), result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("sandbox: ") and "network off" in lines[0]
    assert lines[1] == "command `true`, 3 runs each way:"
    assert re.fullmatch(r"  unsandboxed +median +[\d.]+ ms +p90 +[\d.]+ ms", lines[2])
    assert re.fullmatch(r"  sandboxed +median +[\d.]+ ms +p90 +[\d.]+ ms", lines[3])
    assert re.fullmatch(r"  overhead +median +-?[\d.]+ ms per command \(target < 50 ms\)", lines[4])
