"""The `shell` tool: `bash -c` in the worktree, inside the sandbox, with capped and redacted output."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from shipyard.agent.sandbox import ENV_ALLOW, Launch, Sandbox, scrubbed_env
from shipyard.agent.tool import ToolResult, error, schema
from shipyard.models.base import ToolSpec
from shipyard.redact import Redactor

__all__ = ["ENV_ALLOW", "CommandResult", "Shell", "run_command", "scrubbed_env"]

MAX_TIMEOUT_S = 1800.0
MAX_COMMAND_CHARS = 100_000
HEAD_CHARS = 10_000
TAIL_CHARS = 10_000
_DRAIN_S = 2.0
_GRACE_S = 5.0


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

    def text(self, redact: Redactor) -> str:
        """The output with secrets masked, even those cut in two by the truncation."""
        head = self.head.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        omitted = self.total - len(self.head) - len(self.tail)
        if omitted <= 0:
            return redact(head + tail)
        head, tail = redact.cut(head, tail)
        return f"{head}\n[... {omitted} bytes of output omitted ...]\n{tail}"


class Shell:
    """Runs one command per call with `bash -c` in the worktree, sandboxed; stdout and stderr combined."""

    spec = ToolSpec(
        "shell",
        "Run a bash command in the worktree root, in a sandbox: only the worktree and /tmp are writable, "
        "no network unless the project allows it (stdin is empty; output is combined and truncated).",
        schema(
            {
                "command": {"type": "string"},
                "timeout_s": {"type": "number", "description": "seconds before the command is killed"},
            },
            ("command",),
        ),
    )

    def __init__(self, root: Path, timeout_s: float = 120.0, sandbox: Sandbox | None = None) -> None:
        self.root = root.resolve()
        self.timeout_s = timeout_s
        self.sandbox = sandbox

    async def run(self, args: dict[str, Any]) -> ToolResult:
        timeout_s = float(args.get("timeout_s") or self.timeout_s)
        if timeout_s <= 0:
            return error("`timeout_s` must be positive")
        if len(args["command"]) > MAX_COMMAND_CHARS:
            return error(
                f"the command is {len(args['command'])} characters (at most {MAX_COMMAND_CHARS}); "
                "write a script with write_file and run that"
            )
        timeout_s = min(timeout_s, max(MAX_TIMEOUT_S, self.timeout_s))
        result = await run_command(args["command"], self.root, timeout_s, self.sandbox)
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


async def run_command(
    command: str, cwd: Path, timeout_s: float, sandbox: Sandbox | None = None
) -> CommandResult:
    """Run `bash -c command` in `cwd` in the sandbox (the default policy when none is given); every
    process the command started is gone when this returns, and secrets are masked in the output."""
    box = sandbox if sandbox is not None else Sandbox()
    if not cwd.is_dir():
        return CommandResult(127, f"cannot start bash in {cwd}: no such folder")
    refusal = box.refusal()
    if refusal is not None:
        return CommandResult(126, refusal)
    try:
        launch = box.launch(command, cwd.resolve())
    except OSError as exc:
        return CommandResult(126, f"cannot prepare the sandbox: {exc}")
    try:
        return await _start(launch, cwd, timeout_s)
    finally:
        launch.close()


async def _start(launch: Launch, cwd: Path, timeout_s: float) -> CommandResult:
    read_fd, write_fd = os.pipe()  # our own pipe: asyncio's would make wait() also wait for leftovers
    pipe = os.fdopen(read_fd, "rb", buffering=0)
    try:
        proc = await asyncio.create_subprocess_exec(
            *launch.argv,
            cwd=cwd,
            env=launch.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=write_fd,
            stderr=write_fd,
            start_new_session=True,
            pass_fds=launch.pass_fds,
        )
    except OSError as exc:
        pipe.close()
        return CommandResult(127, f"cannot start bash in {cwd}: {exc}")
    finally:
        os.close(write_fd)
        launch.started()
    return await _supervise(proc, pipe, timeout_s, launch)


async def _supervise(
    proc: asyncio.subprocess.Process, pipe: BinaryIO, timeout_s: float, launch: Launch
) -> CommandResult:
    """Wait for the command, then make sure nothing of it is left: it is done or out of time."""
    capture = _Capture()
    reader = asyncio.create_task(_pump(pipe, capture))
    timed_out = False
    try:
        await asyncio.wait_for(proc.wait(), timeout_s)
    except TimeoutError:
        timed_out = True
    finally:
        _kill(proc, launch)
        await _finish(proc, pipe, reader)
        await launch.ended(_GRACE_S)
    assert proc.returncode is not None
    code = -signal.SIGKILL if timed_out else proc.returncode
    return CommandResult(code, capture.text(Redactor()), timed_out)


def _kill(proc: asyncio.subprocess.Process, launch: Launch) -> None:
    """Kill a command still running: the sandbox's init (the kernel then kills every process of its pid
    namespace, even those that left the process group) and the process group."""
    if proc.returncode is None:
        pid = launch.sandbox_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    _kill_group(proc.pid)


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
