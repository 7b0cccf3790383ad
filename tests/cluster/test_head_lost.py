"""The Ray head's control process (GCS) killed mid-run on a real `ray start` cluster: the run stops itself
with one line soon after, gives back what was running and records why, where Ray alone would end the
process 60 s later with the board saying `running`. About 16 s."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_helpers import make_repo
from shipyard.board.sqlite import SqliteBoard
from shipyard.domain import TaskStatus

HEAD, NODE, PORT = "127.0.0.6", "127.0.0.7", 6396  # addresses of their own: the shared fixture uses .2-.4
GRACE_S = 3


def _ours(folder: Path) -> list[int]:
    """The processes whose command line names `folder` (every Ray process of this test's cluster)."""
    found = subprocess.run(["pgrep", "-f", f"{folder}/"], capture_output=True, text=True, check=False)
    return [int(pid) for pid in found.stdout.split() if int(pid) != os.getpid()]


@pytest.fixture
def cluster() -> Iterator[tuple[Path, dict[str, str]]]:
    folder = Path(tempfile.mkdtemp(prefix="syhead-", dir="/tmp"))  # short: Ray's socket paths live in it
    env = {**os.environ, "RAY_TMPDIR": str(folder / "ray"), "RAY_AUTH_MODE": "disabled"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    head = ["ray", "start", "--head", f"--node-ip-address={HEAD}", f"--port={PORT}", "--num-cpus=1"]
    node = ["ray", "start", f"--address={HEAD}:{PORT}", f"--node-ip-address={NODE}", "--num-cpus=1"]
    try:
        for argv in (
            [*head, '--resources={"head": 1}', "--include-dashboard=false", "--disable-usage-stats"],
            [*node, '--resources={"worker_slot": 2}'],
        ):
            subprocess.run(argv, env=env, capture_output=True, check=True, timeout=120)
        yield folder, env
    finally:
        for _ in range(50):
            pids = _ours(folder)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_run_whose_ray_head_dies_stops_itself_and_says_how_to_go_on(
    cluster: tuple[Path, dict[str, str]],
) -> None:
    folder, env = cluster
    repo = make_repo(folder / "repo")
    (repo / "shipyard.toml").write_text(
        f'[cluster]\naddress = "{HEAD}:{PORT}"\nnode_ip = "{HEAD}"\nnode_dir = "{folder / "nodes"}"\n'
        f"head_lost_s = {GRACE_S}\n"
        '[models]\ndefault = "sim"\n[sim]\ntasks = 40\nthink_ms = 1000\n'
    )
    out = folder / "run.out"
    with open(out, "w") as sink:
        run = subprocess.Popen(
            ["shipyard", "run", str(repo), "--engine", "ray", "--workers", "2"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for(lambda: " merged #" in out.read_text(), 90, "a first merge")
            gcs = [p for p in _ours(folder) if "gcs_server" in Path(f"/proc/{p}/cmdline").read_text()]
            assert gcs, "the head's GCS process"
            for pid in gcs:
                os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            code = run.wait(timeout=55)
            stopped_after = time.monotonic() - killed
        finally:
            run.kill()
    text = out.read_text()
    assert code == 2, text[-3000:]
    assert f"the Ray cluster's head ({HEAD}:{PORT}) has not answered for {GRACE_S} s" in text, text[-3000:]
    assert stopped_after < 30, f"stopped {stopped_after:.0f} s after the GCS died (Ray alone: 60 s)"
    board = SqliteBoard(repo / ".shipyard" / "board.sqlite")
    try:
        assert board.get_meta("state") == "failed"
        assert board.tasks(TaskStatus.CLAIMED) == [], "what was running went back to the board"
        lost = [e for e in board.events() if e.kind == "ClusterHeadLost"]
        assert len(lost) == 1 and lost[0].data["address"] == f"{HEAD}:{PORT}", json.dumps(lost[0].data)
    finally:
        board.close()


def _wait_for(ready: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout_s:.0f} s")
