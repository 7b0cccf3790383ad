"""The `shell` tool: `bash -c` in the worktree, own process group, scrubbed environment, capped output."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from shipyard.agent.tool import ToolResult, error, schema
from shipyard.models.base import ToolSpec

ENV_ALLOW = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER", "SHELL")
MAX_TIMEOUT_S = 1800.0
HEAD_CHARS = 10_000
TAIL_CHARS = 10_000
_DRAIN_S = 2.0


def scrubbed_env(environ: Mapping[str, str]) -> dict[str, str]:
    """Only the allow-listed variables: no API keys, tokens or secrets reach agent commands."""
    env = {name: environ[name] for name in ENV_ALLOW if name in environ}
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


class _Capture:
    """Keeps the first and last bytes of a stream, whatever its length."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = HEAD_CHARS - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail = (self.tail + chunk)[-TAIL_CHARS:]

    def text(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        omitted = self.total - len(self.head) - len(self.tail)
        if omitted <= 0:
            return head + tail
        return f"{head}\n[... {omitted} bytes of output omitted ...]\n{tail}"


class Shell:
    """Runs one command per call with `bash -c` in the worktree; stdout and stderr combined."""

    spec = ToolSpec(
        "shell",
        "Run a bash command in the worktree root (stdin is empty; output is combined and truncated).",
        schema(
            {
                "command": {"type": "string"},
                "timeout_s": {"type": "number", "description": "seconds before the command is killed"},
            },
            ("command",),
        ),
    )

    def __init__(self, root: Path, timeout_s: float = 120.0) -> None:
        self.root = root.resolve()
        self.timeout_s = timeout_s

    async def run(self, args: dict[str, Any]) -> ToolResult:
        timeout_s = float(args.get("timeout_s") or self.timeout_s)
        if timeout_s <= 0:
            return error("`timeout_s` must be positive")
        timeout_s = min(timeout_s, max(MAX_TIMEOUT_S, self.timeout_s))
        result = await run_command(args["command"], self.root, timeout_s)
        if result.timed_out:
            note = f"exit code {result.exit_code} (killed: timed out after {timeout_s:g} s)"
            return ToolResult(f"{note}\n{result.output}".rstrip("\n"), is_error=True)
        return ToolResult(f"exit code {result.exit_code}\n{result.output}".rstrip("\n"))


@dataclass(frozen=True)
class CommandResult:
    """How a command ended: its exit code (negative: killed by that signal) and its capped output."""

    exit_code: int
    output: str
    timed_out: bool = False


async def run_command(command: str, cwd: Path, timeout_s: float) -> CommandResult:
    """Run `bash -c command` in `cwd` with the scrubbed environment; the process group dies at the end."""
    read_fd, write_fd = os.pipe()  # our own pipe: asyncio's would make wait() also wait for leftovers
    pipe = os.fdopen(read_fd, "rb", buffering=0)
    try:
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            command,
            cwd=cwd,
            env=scrubbed_env(os.environ),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=write_fd,
            stderr=write_fd,
            start_new_session=True,
        )
    except OSError as exc:
        pipe.close()
        return CommandResult(127, f"cannot start bash in {cwd}: {exc}")
    finally:
        os.close(write_fd)
    return await _supervise(proc, pipe, timeout_s)


async def _supervise(proc: asyncio.subprocess.Process, pipe: BinaryIO, timeout_s: float) -> CommandResult:
    """Wait for the command, then kill its whole process group: it is done or out of time."""
    capture = _Capture()
    reader = asyncio.create_task(_pump(pipe, capture))
    timed_out = False
    try:
        await asyncio.wait_for(proc.wait(), timeout_s)
    except TimeoutError:
        timed_out = True
    finally:
        _kill_group(proc.pid)  # leftovers started in the background die with the command
        await _finish(proc, pipe, reader)
    assert proc.returncode is not None
    return CommandResult(proc.returncode, capture.text(), timed_out)


async def _pump(pipe: BinaryIO, capture: _Capture) -> None:
    stream = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), pipe)
    try:
        while chunk := await stream.read(65536):
            capture.add(chunk)
    finally:
        transport.close()


async def _finish(proc: asyncio.subprocess.Process, pipe: BinaryIO, reader: asyncio.Task[None]) -> None:
    """Reap the process and let the reader drain what the killed group left in the pipe."""
    await proc.wait()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(reader), _DRAIN_S)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    pipe.close()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
