"""The README's cluster walkthrough, run as written: `scripts/cluster-walkthrough.sh` holds the README's
lines (checked here, so they cannot drift apart), starts three `ray start` nodes on 127.0.0.2-4, runs
`shipyard doctor`, `run --engine ray` and `status`, checks both worker nodes did work, and stops them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from shipyard.board.sqlite import SqliteBoard
from shipyard.fleet.status import StatusOptions
from shipyard.web.state import LiveState

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cluster-walkthrough.sh"
BEGIN, END = "# README walkthrough: begin", "# README walkthrough: end"


def _readme_block() -> list[str]:
    """The README's fenced block that starts with `export RAY_TMPDIR=/tmp/shipyard-ray`."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    (block,) = [b for b in blocks if b.startswith("export RAY_TMPDIR=/tmp/shipyard-ray")]
    return block.splitlines()


def _script_block() -> list[str]:
    lines = SCRIPT.read_text().splitlines()
    return lines[lines.index(BEGIN) + 1 : lines.index(END)]


def test_the_readme_shows_the_scripts_lines() -> None:
    readme = _readme_block()
    assert readme[1:-1] == _script_block()  # the script sets its own RAY_TMPDIR and stops only its nodes
    assert readme[-1].startswith("ray stop ")


def test_the_readme_walkthrough_runs_on_a_local_three_node_cluster() -> None:
    walk = Path(tempfile.mkdtemp(prefix="sywalk-", dir="/tmp"))  # short: Ray's socket paths live under it
    env = {**os.environ, "SHIPYARD_WALK_DIR": str(walk)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["COLUMNS"] = "200"  # doctor's table rows on one line each
    try:
        done = subprocess.run(
            ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=240, check=False
        )
        left = subprocess.run(["pgrep", "-f", f"{walk}/"], capture_output=True, text=True, check=False)
        nodes = _dashboard_nodes(walk / "walkthrough" / ".shipyard" / "board.sqlite")
    finally:
        shutil.rmtree(walk, ignore_errors=True)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "walkthrough: ok, both worker nodes ran tasks" in out
    assert "all is well: a run can start here" in out  # doctor: the cluster, both nodes
    cluster_row = r"ray cluster\s+│ ok\s+│ 3 nodes alive, 8 worker slots \(`worker_slot`\) at 127\.0\.0\.2:"
    assert re.search(cluster_row, out), out[-4000:]
    assert "tasks: 6 done, 0 failed" in out
    assert re.search(r"works on #\d+ on node 127\.0\.0\.3", out) and re.search(r"on node 127\.0\.0\.4", out)
    assert "node 127.0.0.3" in out and "node 127.0.0.4" in out  # status, per node
    assert left.stdout.strip() == "", "the walkthrough left Ray processes running"
    # the dashboard: each worker with the node it last worked on
    assert len(nodes) >= 2 and set(nodes.values()) <= {"127.0.0.3", "127.0.0.4"}, nodes


def _dashboard_nodes(board_file: Path) -> dict[str, str]:
    """What the dashboard shows as each worker's node, read from the walkthrough's board."""
    board = SqliteBoard(board_file)
    try:
        agents = LiveState(board, StatusOptions()).state()["agents"]
    finally:
        board.close()
    return {a["name"]: a["node"] for a in agents if a["name"].startswith("worker-")}
