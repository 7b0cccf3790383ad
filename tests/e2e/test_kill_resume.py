"""SIGKILL the orchestrator at random moments of a simulated run, resume after each, and lose nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from cli_helpers import FAST_RETRY, audit, make_repo

SHIPYARD = str(Path(sys.executable).with_name("shipyard"))
KILLS = 20
SIM = "\n[sim]\ntasks = 150\nthink_ms = 300\nhot_share = 0.2\nseed = 3\n"


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SHIPYARD, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ)
    )


def _kill_mid_run(proc: subprocess.Popen[str], rng: random.Random) -> bool:
    """Wait for the run's first progress line, then SIGKILL it after a random delay; False if it ended."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("["):
            break
    time.sleep(rng.uniform(0.05, 0.6))
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    return True


def test_twenty_sigkills_lose_nothing(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "target")
    (root / "shipyard.toml").write_text(
        'goal = "simulate"\nworkers = 4\n[models]\ndefault = "sim"\n' + FAST_RETRY + SIM
    )
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(root), "commit", "-qm", "config"],
        check=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@x",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@x",
        },
    )
    rng = random.Random(20)
    kills = 0
    proc = _start(["run", str(root)])
    while kills < KILLS:
        if not _kill_mid_run(proc, rng):
            proc.communicate(timeout=300)
            break
        kills += 1
        proc = _start(["resume", str(root)])
    else:
        proc.communicate(timeout=300)
    final = subprocess.run([SHIPYARD, "resume", str(root)], capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    assert kills == KILLS, f"the run finished after only {kills} kills; make the workload longer"
    counts = audit(root)
    # Tasks whose attempts ran out across the kills failed (exactly once) and were planned again.
    assert counts["done"] >= 150 and counts["merged"] >= 150
