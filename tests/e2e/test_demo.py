"""`shipyard demo` through the real CLI: the scripted fleet builds the sample project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cli_helpers import git

SHIPYARD = str(Path(sys.executable).with_name("shipyard"))


def test_demo_builds_the_sample_with_several_workers(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    run = subprocess.run(
        [SHIPYARD, "demo", "--dir", str(target), "--workers", "4"],
        capture_output=True,
        text=True,
        timeout=240,
        env=dict(os.environ),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "scripted" in run.stdout
    assert "commits merged:" in run.stdout

    assert git(target, "status", "--porcelain") == "", "the checkout must be kept in step with main"
    suite = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=target, capture_output=True, text=True)
    assert suite.returncode == 0, suite.stdout
    authors = set(git(target, "log", "--format=%an", "main").split())
    assert len(authors & {f"worker-{i}" for i in range(1, 5)}) >= 2, authors

    status = subprocess.run([SHIPYARD, "status", str(target), "--json"], capture_output=True, text=True)
    data = json.loads(status.stdout)
    assert data["state"] == "done"
    assert data["tasks"]["open"] == 0 and data["tasks"]["claimed"] == 0
    assert data["tasks"]["done"] + data["tasks"]["cancelled"] == sum(data["tasks"].values())
    assert data["merged_commits"] > 0
    assert not (target / ".shipyard" / "worktrees").exists() or not any(
        (target / ".shipyard" / "worktrees").iterdir()
    )
    changelog = (target / "CHANGELOG.md").read_text()
    assert changelog.count("implemented") == 6 and "<<<<<<<" not in changelog
