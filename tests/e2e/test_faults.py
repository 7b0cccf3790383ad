"""Long runs survive provider faults, chaos and bad input with nothing lost."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cli_helpers import audit, invoke, make_demo_repo, snapshot


def test_run_completes_with_a_fifth_of_model_calls_failing(tmp_path: Path) -> None:
    root = make_demo_repo(tmp_path / "p", tables={"chaos": {"model_error_rate": 0.2, "seed": 5}})
    result = invoke("run", str(root), "--max-cycles", "4")
    assert result.exit_code == 0, result.stdout + result.stderr
    counts = audit(root)
    assert counts["done"] >= 6 and counts["merged"] >= 6


def test_full_chaos_keeps_every_task_accounted_for(tmp_path: Path) -> None:
    root = make_demo_repo(tmp_path / "p")
    result = invoke("run", str(root), "--chaos", "--max-cycles", "4")
    assert result.exit_code in (0, 1), result.stdout + result.stderr
    audit(root)


def test_uncommitted_changes_on_the_shared_branch_are_refused(tmp_path: Path) -> None:
    root = make_demo_repo(tmp_path / "p")
    (root / "SPEC.md").write_text("edited\n")
    before = snapshot(root)
    result = invoke("run", str(root))
    assert result.exit_code == 2 and "uncommitted changes" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(root) == before


def test_detached_head_is_refused(tmp_path: Path) -> None:
    root = make_demo_repo(tmp_path / "p")
    subprocess.run(["git", "-C", str(root), "checkout", "-q", "--detach"], check=True)
    before = snapshot(root)
    result = invoke("run", str(root))
    assert result.exit_code == 2 and "HEAD is detached" in result.stderr
    assert snapshot(root) == before


def test_missing_branch_is_refused(tmp_path: Path) -> None:
    root = make_demo_repo(tmp_path / "p")
    (root / "shipyard.toml").write_text(
        (root / "shipyard.toml").read_text().replace('branch = "main"', 'branch = "trunk"')
    )
    subprocess.run(["git", "-C", str(root), "commit", "-qam", "trunk"], check=True)
    before = snapshot(root)
    result = invoke("run", str(root))
    assert result.exit_code == 2 and "branch `trunk` does not exist" in result.stderr
    assert snapshot(root) == before


def test_run_on_an_unfinished_run_points_to_resume(tmp_path: Path) -> None:
    root = make_demo_repo(tmp_path / "p")
    first = invoke(
        "run", str(root), "--max-cycles", "1", "--model", "worker=scripted:" + str(_stalling(tmp_path))
    )
    assert first.exit_code == 2, first.stdout + first.stderr  # the script's error is fatal: the run fails
    assert "no turns left" in first.stderr
    before = snapshot(root)
    again = invoke("run", str(root))
    assert again.exit_code == 2 and "shipyard resume" in again.stderr
    assert snapshot(root) == before
    resumed = invoke("resume", str(root), "--model", "worker=scripted:demo")  # the run's own model failed
    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    assert "(and --model as given now)" in resumed.stdout
    audit(root)


def _stalling(tmp_path: Path) -> Path:
    """A worker script with no turns: its first call is a fault no retry can fix."""
    path = tmp_path / "idle.json"
    path.write_text('{"worker": []}')
    return path
