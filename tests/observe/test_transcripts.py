"""Transcripts: every turn and tool call is stored, secrets never are; `shipyard logs --follow` tails them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cli_helpers import invoke, make_repo, write_script
from shipyard.board.sqlite import SqliteBoard
from shipyard.domain import Event

SHIPYARD = str(Path(sys.executable).with_name("shipyard"))
SECRET = "sk-test-4f9Qz7Lm2Xc8Vb1Nk3Hj6Gt0"
PLAIN_SECRET = "Zq8Vx2Lm9Pw4Rt7Yq3"  # not shaped like a key: only the environment says it is secret


def _calls(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": args} for name, args in calls]}


def _script(tmp_path: Path) -> Path:
    task = {
        "title": "Write note.txt",
        "description": f"key {SECRET}",
        "acceptance": "note.txt exists",
        "scope": [],
    }
    shell = f"echo {SECRET} {PLAIN_SECRET}; printenv OPENAI_API_KEY || echo scrubbed"
    handoff = {"summary": f"the key is {SECRET}", "concerns": f"also {PLAIN_SECRET}"}
    return write_script(
        tmp_path / "script.json",
        {
            "planner": [
                _calls(("create_task", task)),
                _calls(("finish", {"summary": "one task"})),
                _calls(("finish", {"summary": "merged"})),
            ],
            "worker": [
                {"text": f"I will echo {SECRET}", **_calls(("shell", {"command": shell}))},
                _calls(("write_file", {"path": "note.txt", "content": "noted\n"})),
                _calls(("finish", handoff)),
            ],
            "judge": [_calls(("verdict", {"decision": "stop", "notes": f"fine {SECRET}"}))],
        },
    )


def test_secrets_in_the_environment_never_reach_stored_transcripts(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    script = _script(tmp_path)
    (repo / "shipyard.toml").write_text(
        f'goal = "note it"\nworkers = 1\n[models]\ndefault = "scripted:{script}"\n'
    )
    env = {**os.environ, "OPENAI_API_KEY": SECRET, "SHIPYARD_TEST_TOKEN": PLAIN_SECRET}
    run = subprocess.run([SHIPYARD, "run", str(repo)], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stdout + run.stderr

    board = SqliteBoard(repo / ".shipyard" / "board.sqlite", redact=lambda text: text)
    events = board.events()
    tasks = board.tasks()
    board.close()
    shell = next(e for e in events if e.kind == "ToolCalled" and e.data["tool"] == "shell")
    assert shell.data["result"].splitlines()[1:] == ["[REDACTED] [REDACTED]", "scrubbed"]
    assert "echo [REDACTED] [REDACTED]" in shell.data["args"]
    finish = next(
        e
        for e in events
        if e.kind == "ModelCalled" and e.data["tool_calls"] == ["finish"] and e.agent == "worker-1"
    )
    assert finish.data["calls"][0]["arguments"]["summary"] == "the key is [REDACTED]"
    assert tasks[0].handoff is not None and tasks[0].handoff.summary == "the key is [REDACTED]"
    assert {e.kind for e in events} >= {"AgentStarted", "ModelCalled", "ToolCalled", "TaskCompleted"}

    stored = b"".join(p.read_bytes() for p in (repo / ".shipyard").rglob("*") if p.is_file())
    for secret in (SECRET, PLAIN_SECRET):
        assert secret.encode() not in stored
        assert secret not in invoke("logs", str(repo), "--full").stdout
        assert secret not in invoke("status", str(repo), "--json").stdout


def test_every_turn_of_an_agent_is_in_its_transcript(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    script = _script(tmp_path)
    (repo / "shipyard.toml").write_text(
        f'goal = "note it"\nworkers = 1\n[models]\ndefault = "scripted:{script}"\n'
    )
    assert invoke("run", str(repo)).exit_code == 0
    board = SqliteBoard(repo / ".shipyard" / "board.sqlite")
    worker = [
        e
        for e in board.events()
        if e.agent == "worker-1" and e.kind in ("AgentStarted", "ModelCalled", "ToolCalled")
    ]
    board.close()
    assert [e.kind for e in worker] == ["AgentStarted"] + ["ModelCalled", "ToolCalled"] * 3
    started = worker[0].data
    assert started["role"] == "worker" and "# Task: Write note.txt" in started["prompt"] and started["system"]
    assert "finish" in started["tools"]
    assert [e.data.get("tool") for e in worker[2::2]] == ["shell", "write_file", "finish"]
    assert worker[3].data["calls"][0]["arguments"] == {"path": "note.txt", "content": "noted\n"}


def test_logs_follow_prints_new_turns_as_they_come(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    board = SqliteBoard(repo / ".shipyard" / "board.sqlite")
    board.append(
        Event(
            "AgentStarted",
            {"role": "planner", "prompt": "plan the goal", "tools": ["finish"]},
            None,
            "planner",
        )
    )
    follow = subprocess.Popen(
        [SHIPYARD, "logs", str(repo), "--follow", "--agent", "worker-3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        board.append(Event("ToolCalled", {"step": 1, "tool": "grep", "result": "nothing"}, 4, "worker-1"))
        board.append(
            Event(
                "ToolCalled", {"step": 2, "tool": "shell", "result": "exit code 0\nall good"}, 5, "worker-3"
            )
        )
        assert follow.stdout is not None
        first = follow.stdout.readline()
        assert first.split()[1:] == ["worker-3", "#5", "step", "2", "shell"], first
        assert follow.stdout.readline().strip() == "exit code 0"
    finally:
        follow.terminate()
        follow.wait(10)
        if follow.stdout is not None:
            follow.stdout.close()
        board.close()
