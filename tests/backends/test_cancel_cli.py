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
# The CLI starts a child, tells the test both pids through a FIFO, then hangs as if thinking.
HANG = """
child = subprocess.Popen(["sleep", "600"])
with open(Path(__file__).with_suffix(".fifo"), "w") as fifo:
    fifo.write(f"{os.getpid()} {child.pid}\\n")
print(json.dumps({"type": "system", "subtype": "init"}), flush=True)
time.sleep(600)
"""


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

    def cancel_once_running() -> None:  # blocks on the FIFO until the CLI runs, then cancels as a person
        with open(cli.with_suffix(".fifo")) as fifo:
            pids.extend(int(p) for p in fifo.readline().split())
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
    assert len(pids) == 2 and all(dies(pid) for pid in pids)  # the CLI and its child
    board = SqliteBoard(repo / ".shipyard" / "board.sqlite")
    try:
        assert board.get(1).status.value == "cancelled"
        assert not any(e.kind == "CommitMerged" for e in board.events())
    finally:
        board.close()
    assert "hello.py" not in git(repo, "ls-tree", "-r", "--name-only", "main")
    assert not list((repo / ".shipyard" / "worktrees").glob("worker-1-task-1*"))
