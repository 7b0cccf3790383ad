"""The shell tool: exit codes, combined output, timeouts that kill every process, scrubbed environment,
truncation and redaction; in the sandbox (the default) and, where the policy allows, without it."""

from __future__ import annotations

import asyncio
import os
import select
import sys
import time
import uuid
from pathlib import Path

import pytest

from shipyard.agent import ToolResult
from shipyard.agent.sandbox import Sandbox, SandboxPolicy
from shipyard.agent.shell import CommandResult, Shell, run_command
from shipyard.redact import MASK

PLAIN = Sandbox(SandboxPolicy(enabled=False))


def sh(
    root: Path, command: str, timeout_s: float | None = None, sandbox: Sandbox | None = None
) -> ToolResult:
    args: dict[str, object] = {"command": command}
    if timeout_s is not None:
        args["timeout_s"] = timeout_s
    result: ToolResult = asyncio.run(Shell(root, timeout_s=10.0, sandbox=sandbox).run(args))
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


def running(marker: str) -> list[int]:
    """Host pids of live processes whose command line holds `marker`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_exit_code_and_combined_output_in_the_worktree(tmp_path: Path) -> None:
    result = sh(tmp_path, "pwd; echo oops >&2; exit 3")
    assert result.text == f"exit code 3\n{tmp_path.resolve()}\noops"
    assert not result.is_error


def test_stdin_is_empty(tmp_path: Path) -> None:
    assert sh(tmp_path, "cat; echo done").text == "exit code 0\ndone"


def test_timeout_kills_every_process_of_the_sandbox(tmp_path: Path) -> None:
    marker = f"shipyard-test-{uuid.uuid4().hex}"
    started = time.monotonic()
    command = f"(setsid bash -c 'exec -a {marker} sleep 30' &); (exec -a {marker} sleep 30 &); sleep 30"
    result = sh(tmp_path, command, timeout_s=0.5)
    assert time.monotonic() - started < 3.0
    assert result.is_error and result.text.startswith("exit code -9 (killed: timed out after 0.5 s)")
    assert running(marker) == []  # gone when the call returns, even those that left the process group


def test_background_processes_end_with_the_command_in_the_sandbox(tmp_path: Path) -> None:
    marker = f"shipyard-test-{uuid.uuid4().hex}"
    started = time.monotonic()
    result = sh(
        tmp_path, f"(setsid nohup bash -c 'exec -a {marker} sleep 30' >/dev/null 2>&1 &); echo started"
    )
    assert result.text == "exit code 0\nstarted"
    assert time.monotonic() - started < 3.0
    assert running(marker) == []


def test_timeout_kills_the_whole_process_group_unsandboxed(tmp_path: Path) -> None:
    started = time.monotonic()
    result = sh(tmp_path, "sleep 30 & echo $! > bg.pid; sleep 30", timeout_s=0.5, sandbox=PLAIN)
    assert time.monotonic() - started < 3.0
    assert result.is_error and result.text.startswith("exit code -9 (killed: timed out after 0.5 s)")
    assert gone(int((tmp_path / "bg.pid").read_text()))


def test_background_leftovers_do_not_hold_the_call_unsandboxed(tmp_path: Path) -> None:
    started = time.monotonic()
    result = sh(tmp_path, "sleep 30 & echo $! > bg.pid; echo started", sandbox=PLAIN)
    assert result.text == "exit code 0\nstarted"
    assert time.monotonic() - started < 3.0
    assert gone(int((tmp_path / "bg.pid").read_text()))


@pytest.mark.parametrize("sandbox", [None, PLAIN], ids=["sandboxed", "unsandboxed"])
def test_environment_is_scrubbed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox | None
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-fake")
    monkeypatch.setenv("MY_SECRET", "hush")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    text = sh(tmp_path, "env", sandbox=sandbox).text
    names = {line.split("=", 1)[0] for line in text.splitlines()[1:]}
    assert not names & {"OPENAI_API_KEY", "GITHUB_TOKEN", "MY_SECRET", "PYTHONPATH"}
    assert "fake" not in text and "hush" not in text
    venv = [] if sys.prefix == sys.base_prefix else [f"{sys.prefix}/bin"]  # the one Shipyard runs from
    assert "PATH=" + ":".join([*venv, "/usr/bin", "/bin"]) in text.splitlines()


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


def test_secrets_in_the_output_are_masked_at_the_tool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = f"planted-{uuid.uuid4().hex}"
    monkeypatch.setenv("DEPLOY_TOKEN", planted)
    key = "sk-" + "A1b2C3d4" * 4
    result = sh(
        tmp_path, f"echo token={planted}; echo key={key}; echo url=https://bob:{planted}@example.com/x"
    )
    assert planted not in result.text and key not in result.text
    assert result.text.splitlines()[1:] == [
        f"token={MASK}",
        f"key={MASK}",
        f"url=https://bob:{MASK}@example.com/x",
    ]


def test_a_secret_cut_by_truncation_leaks_no_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planted = "Zq9" + uuid.uuid4().hex
    monkeypatch.setenv("DEPLOY_TOKEN", planted)
    # The secret straddles the end of the kept head: its first 10 characters are kept, the rest omitted.
    command = (
        f"head -c 9990 /dev/zero | tr '\\0' a; printf %s {planted}; head -c 50000 /dev/zero | tr '\\0' b"
    )
    text = sh(tmp_path, command).text
    assert "bytes of output omitted" in text
    assert planted[:10] not in text and MASK in text


def test_the_sandbox_refuses_when_bubblewrap_is_missing(tmp_path: Path) -> None:
    missing = Sandbox(SandboxPolicy(bwrap="/nonexistent/bwrap"))
    result = sh(tmp_path, "echo ran > ran.txt", sandbox=missing)
    assert result.text.startswith("exit code 126\nsandbox: bubblewrap is not installed")
    assert "allow_unsandboxed = true" in result.text and not (tmp_path / "ran.txt").exists()
    waived = Sandbox(SandboxPolicy(bwrap="/nonexistent/bwrap", allow_unsandboxed=True))
    assert sh(tmp_path, "echo ran", sandbox=waived).text == "exit code 0\nran"


def test_overlong_commands_are_refused(tmp_path: Path) -> None:
    result = sh(tmp_path, "echo " + "x" * 100_001)
    assert result.is_error and "write a script with write_file" in result.text
