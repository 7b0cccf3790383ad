"""SIGKILL the orchestrator while a worker has written files: `resume` keeps, lists and builds on them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from test_attempts_cli import TASK, THREE, _call

from cli_helpers import git, invoke

SHIPYARD = str(Path(sys.executable).with_name("shipyard"))


def _write_script(path: Path, worker: list[dict[str, object]], plan: bool = True) -> None:
    turns = {
        "planner": [_call("create_task", **TASK)] * plan + [_call("finish", summary="ok")] * 6,
        "worker": worker,
        "judge": [_call("verdict", decision="stop", notes="done")] * 2,
    }
    path.write_text(json.dumps(turns))


def _wait_for_writer(fifo: Path, timeout_s: float) -> bool:
    """Block until something opens `fifo` and writes a line (or the timeout passes)."""
    got: list[str] = []

    def read() -> None:
        with fifo.open() as handle:
            got.append(handle.readline())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    return bool(got)


def test_a_sigkilled_attempt_is_kept_on_resume_and_the_retry_starts_from_it(
    repo: Path, tmp_path: Path
) -> None:
    script, fifo = tmp_path / "script.json", tmp_path / "ready"
    os.mkfifo(fifo)
    writes = [_call("write_file", path=name, content=text) for name, text in THREE.items()]
    _write_script(script, [*writes, _call("shell", command=f"echo ready > {fifo} && sleep 20")])
    (repo / "shipyard.toml").write_text(
        f'goal = "three files"\nworkers = 1\nmax_cycles = 1\n[models]\ndefault = "scripted:{script}"\n'
        "[sandbox]\nenabled = false\n"  # the shell step signals the test through a FIFO outside the repo
    )
    run = subprocess.Popen([SHIPYARD, "run", str(repo)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for_writer(fifo, 60), "the worker never reached its shell step"
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
    assert git(repo, "for-each-ref", "refs/shipyard/") == ""  # nothing kept yet: the process died
    _write_script(script, [_call("finish", summary="the files were there; done")], plan=False)

    resumed = invoke("resume", str(repo))

    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    for name, text in THREE.items():  # the retry started with the killed attempt's files and landed them
        assert (repo / name).read_text() == text
    rows = json.loads(invoke("attempts", str(repo), "--json").stdout)
    assert [(r["attempt"], r["ended"]) for r in rows] == [(1, "interrupted"), (2, "landed")]
    assert sorted(rows[0]["files"]) == sorted(THREE)
    assert git(repo, "show", f"{rows[0]['ref']}:src/c.py") == THREE["src/c.py"]
