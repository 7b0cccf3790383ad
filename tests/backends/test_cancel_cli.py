"""Cancel means cancel for CLI backends too: a cancelled task's CLI worker is stopped (its process tree
killed), nothing of it lands, and the run goes on."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from backend_fakes import claude_like, dies, toml_str

from cli_helpers import git, invoke, write_script
from shipyard.board.sqlite import SqliteBoard

TASK = {"title": "Write hello.py", "description": "d", "acceptance": "a", "scope": ["hello.py"]}
# The CLI starts a child, tells the test it runs through a FIFO, then hangs as if thinking.
HANG = """
child = subprocess.Popen(["sleep", "611.2345"])
with open(Path(__file__).with_suffix(".fifo"), "w") as fifo:
    fifo.write(f"{os.getpid()} {child.pid}\\n")
print(json.dumps({"type": "system", "subtype": "init"}), flush=True)
time.sleep(600)
"""


def _host_pids(*needles: bytes) -> list[int]:
    """Host pids of the processes whose command line holds one of `needles`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
        except OSError:
            continue
        if any(needle in cmdline for needle in needles):
            found.append(int(entry.name))
    return found


def test_a_cancelled_task_stops_its_cli_worker_and_nothing_lands(repo: Path, tmp_path: Path) -> None:
    cli = claude_like(tmp_path / "claude", before=HANG)
    os.mkfifo(cli.with_suffix(".fifo"))
    script = write_script(
        tmp_path / "script.json",
        {
            "planner": [
                {"tool_calls": [{"name": "create_task", "arguments": TASK}]},
                {"tool_calls": [{"name": "finish", "arguments": {"summary": "one task"}}]},
                {"tool_calls": [{"name": "finish", "arguments": {"summary": "it was cancelled"}}]},
            ],
            "judge": [{"tool_calls": [{"name": "verdict", "arguments": {"decision": "stop"}}]}],
        },
    )
    (repo / "shipyard.toml").write_text(
        'goal = "write hello.py"\nworkers = 1\n[fleet]\nlease_s = 2\n'
        f'[models]\nplanner = "scripted:{script}"\njudge = "scripted:{script}"\n'
        f'[[backends.worker]]\ncli = "claude"\nbinary = {toml_str(cli)}\n'
    )
    pids: list[int] = []
    children: list[int] = []

    def cancel_once_running() -> None:  # blocks on the FIFO until the CLI runs, then cancels as a person
        with open(cli.with_suffix(".fifo")) as fifo:
            fifo.readline()
        children.extend(_host_pids(b"sleep\x00611.2345\x00"))  # the sandbox has pids of its own
        pids.extend(_host_pids(str(cli).encode()))  # the CLI (and the sandbox that runs it)
        board = SqliteBoard(repo / ".shipyard" / "board.sqlite")
        try:
            board.cancel(1, "cancelled by the person")
        finally:
            board.close()

    canceller = threading.Thread(target=cancel_once_running)
    canceller.start()
    result = invoke("run", str(repo), env={"ANTHROPIC_API_KEY": "k"})
    canceller.join()
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "worker-1 stopped on #1: task #1 was cancelled" in result.stdout
    assert len(children) == 1 and pids and all(dies(pid) for pid in [*pids, *children])
    board = SqliteBoard(repo / ".shipyard" / "board.sqlite")
    try:
        assert board.get(1).status.value == "cancelled"
        assert not any(e.kind == "CommitMerged" for e in board.events())
    finally:
        board.close()
    assert "hello.py" not in git(repo, "ls-tree", "-r", "--name-only", "main")
    assert not list((repo / ".shipyard" / "worktrees").glob("worker-1-task-1*"))
