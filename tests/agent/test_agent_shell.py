"""The shell tool: exit codes, combined output, process-group timeouts, scrubbed environment, truncation."""

from __future__ import annotations

import asyncio
import os
import select
import time
from pathlib import Path

import pytest

from shipyard.agent import ToolResult
from shipyard.agent.shell import CommandResult, Shell, run_command


def sh(root: Path, command: str, timeout_s: float | None = None) -> ToolResult:
    args: dict[str, object] = {"command": command}
    if timeout_s is not None:
        args["timeout_s"] = timeout_s
    result: ToolResult = asyncio.run(Shell(root, timeout_s=10.0).run(args))
    return result


def gone(pid: int) -> bool:
    """True when the process has exited or does so within 2 s (waits on a pidfd, not on a clock)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], 2.0)[0])
    finally:
        os.close(fd)


def test_exit_code_and_combined_output_in_the_worktree(tmp_path: Path) -> None:
    result = sh(tmp_path, "pwd; echo oops >&2; exit 3")
    assert result.text == f"exit code 3\n{tmp_path.resolve()}\noops"
    assert not result.is_error


def test_stdin_is_empty(tmp_path: Path) -> None:
    assert sh(tmp_path, "cat; echo done").text == "exit code 0\ndone"


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    started = time.monotonic()
    result = sh(tmp_path, "sleep 30 & echo $! > bg.pid; sleep 30", timeout_s=0.5)
    assert time.monotonic() - started < 3.0
    assert result.is_error and result.text.startswith("exit code -9 (killed: timed out after 0.5 s)")
    assert gone(int((tmp_path / "bg.pid").read_text()))


def test_background_leftovers_do_not_hold_the_call(tmp_path: Path) -> None:
    started = time.monotonic()
    result = sh(tmp_path, "sleep 30 & echo $! > bg.pid; echo started")
    assert result.text == "exit code 0\nstarted"
    assert time.monotonic() - started < 3.0
    assert gone(int((tmp_path / "bg.pid").read_text()))


def test_environment_is_scrubbed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-fake")
    monkeypatch.setenv("MY_SECRET", "hush")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    text = sh(tmp_path, "env").text
    names = {line.split("=", 1)[0] for line in text.splitlines()[1:]}
    assert not names & {"OPENAI_API_KEY", "GITHUB_TOKEN", "MY_SECRET", "PYTHONPATH"}
    assert "fake" not in text and "hush" not in text
    assert "PATH=/usr/bin:/bin" in text.splitlines()


def test_long_output_keeps_head_and_tail(tmp_path: Path) -> None:
    result = sh(tmp_path, "echo START; head -c 100000 /dev/zero | tr '\\0' a; echo; echo END")
    assert result.text.startswith("exit code 0\nSTART\n") and result.text.endswith("\nEND")
    assert "bytes of output omitted" in result.text
    assert len(result.text) < 20_200


def test_run_command_for_the_harness(tmp_path: Path) -> None:
    result = asyncio.run(run_command("echo ok; exit 1", tmp_path, 5.0))
    assert result == CommandResult(1, "ok\n")
    late = asyncio.run(run_command("sleep 30", tmp_path, 0.2))
    assert late.timed_out and late.exit_code == -9


def test_bad_timeout_is_an_error(tmp_path: Path) -> None:
    assert sh(tmp_path, "true", timeout_s=-1).text == "error: `timeout_s` must be positive"


def test_missing_worktree_is_an_error_not_a_crash(tmp_path: Path) -> None:
    result = sh(tmp_path / "missing", "true")
    assert result.text.startswith("exit code 127\ncannot start bash in ")
