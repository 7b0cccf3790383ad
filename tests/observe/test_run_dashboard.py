"""`shipyard run --dashboard`: the dashboard serves the running fleet from the board file, then stops."""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import make_repo, write_script

SHIPYARD = str(Path(sys.executable).with_name("shipyard"))


def _script(tmp_path: Path) -> Path:
    task = {"title": "Write a.txt", "description": "", "acceptance": "a.txt exists", "scope": []}

    def calls(name: str, **args: Any) -> dict[str, Any]:
        return {"tool_calls": [{"name": name, "arguments": args}]}

    return write_script(
        tmp_path / "script.json",
        {
            "planner": [
                calls("create_task", **task),
                calls("finish", summary="one"),
                calls("finish", summary="ok"),
            ],
            "worker": [
                calls("write_file", path="a.txt", content="a\n"),
                calls("finish", summary="wrote a.txt"),
            ],
            "judge": [calls("verdict", decision="stop", notes="done")],
        },
    )


def _get(port: int, path: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


class Lines:
    """The process's output lines, read in a thread, waited on with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        self._stdout = proc.stdout
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self._stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout_s: float = 30.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no line matching {pattern!r} in: {''.join(self.seen)}")


def test_run_with_dashboard_serves_the_live_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    # The check (run in its worktree) holds the run until the test has looked, for 30 s at most.
    check = "sh -c 'i=0; while [ ! -e go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done'"
    go = repo / ".shipyard" / "worktrees" / "check" / "go"
    (repo / "shipyard.toml").write_text(
        f'goal = "a"\nworkers = 1\ncheck = "{check}"\n[models]\ndefault = "scripted:{_script(tmp_path)}"\n'
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [SHIPYARD, "run", str(repo), "--dashboard", "--dashboard-port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = Lines(proc)
        port = int(lines.wait_for(r"^dashboard: http://127\.0\.0\.1:(\d+)/").group(1))
        lines.wait_for(r"worker-1 merged #1")
        state = _get(port, "/api/state")
        assert state["state"] == "running" and state["merged_commits"] == 1
        assert [a["name"] for a in state["agents"]][:1] == ["planner"]
        deadline = time.monotonic() + 30
        while not go.parent.is_dir():  # the check's worktree: made just after the merge
            assert time.monotonic() < deadline, "the check never started"
            time.sleep(0.02)
        go.touch()
        lines.wait_for(r"dashboard stopped")
        lines.wait_for(r"state: done")
        assert proc.wait(30) == 0, "".join(lines.seen)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    with pytest.raises(ConnectionRefusedError):
        _get(port, "/api/state")
