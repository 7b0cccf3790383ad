"""Supervision of one external CLI process: its own process group, stdin closed, limits on time and silence.

This is the edge where Shipyard starts coding-agent CLIs (besides `git/` and the agent's shell tool).
The CLI's JSON lines go to a callback as they come; the run ends when the CLI exits, when the wall
time is up, when it has printed nothing for `idle_s` (it is probably waiting on input or a prompt), or
when the callback asks to stop (a token limit). Whatever ends it, the whole process tree is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

LINE_LIMIT = 64 * 1024 * 1024  # one JSON event can carry a whole file
STDERR_TAIL = 4000
_DRAIN_S = 2.0
_GRACE_S = 2.0


class Cause(StrEnum):
    """Why a CLI process ended."""

    EXITED = "exited"
    WALL_TIME = "wall_time"
    IDLE = "idle"
    LIMIT = "limit"


@dataclass(frozen=True)
class Watch:
    """The limits a CLI runs under: total time, and time without any output."""

    wall_time_s: float
    idle_s: float


@dataclass(frozen=True)
class Ended:
    cause: Cause
    exit_code: int | None
    stderr_tail: str
    duration_s: float


LineHandler = Callable[[bytes], bool]  # returns True to stop the CLI (a limit was reached)


class _Clock:
    """The wall-time and silence deadlines of one run."""

    def __init__(self, watch: Watch) -> None:
        self.watch = watch
        self.started = self.last_output = time.monotonic()

    def touch(self) -> None:
        self.last_output = time.monotonic()

    def wait_s(self) -> float:
        now = time.monotonic()
        wall = self.watch.wall_time_s - (now - self.started)
        idle = self.watch.idle_s - (now - self.last_output)
        return max(0.0, min(wall, idle))

    def expired(self) -> Cause | None:
        now = time.monotonic()
        if now - self.started >= self.watch.wall_time_s:
            return Cause.WALL_TIME
        if now - self.last_output >= self.watch.idle_s:
            return Cause.IDLE
        return None


@dataclass(frozen=True)
class Command:
    """A CLI command line, where it runs, its whole environment, and a file for its stdin (or none)."""

    argv: Sequence[str]
    cwd: Path
    env: Mapping[str, str]
    stdin: Path | None = None


async def supervise(command: Command, watch: Watch, on_line: LineHandler) -> Ended:
    """Run the CLI to its end (or its limit) and kill whatever it leaves behind."""
    out_r, out_w = os.pipe()  # our own pipes: asyncio's would make wait() also wait for leftovers
    err_r, err_w = os.pipe()
    stdin = open(command.stdin, "rb") if command.stdin else asyncio.subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = await asyncio.create_subprocess_exec(
            *command.argv,
            cwd=command.cwd,
            env=dict(command.env),
            stdin=stdin,
            stdout=out_w,
            stderr=err_w,
            start_new_session=True,
        )
    except OSError:
        os.close(out_r)
        os.close(err_r)
        raise
    finally:
        os.close(out_w)
        os.close(err_w)
        if not isinstance(stdin, int):
            stdin.close()
    return await _run(proc, (os.fdopen(out_r, "rb", 0), os.fdopen(err_r, "rb", 0)), watch, on_line)


async def _run(
    proc: asyncio.subprocess.Process, pipes: tuple[BinaryIO, BinaryIO], watch: Watch, on_line: LineHandler
) -> Ended:
    clock = _Clock(watch)
    out, out_transport = await _reader(pipes[0])
    err, err_transport = await _reader(pipes[1])
    tail = bytearray()
    errors = asyncio.ensure_future(_drain(err, tail, clock))
    cause: Cause | None = None
    try:
        cause = await _follow(proc, out, clock, on_line)
    finally:
        await _stop(proc, graceful=cause is not Cause.EXITED)
        if cause is not None:
            await _finish_lines(out, on_line)
        await _settle(errors)
        out_transport.close()
        err_transport.close()
    text = tail.decode("utf-8", errors="replace")[-STDERR_TAIL:]
    return Ended(cause, proc.returncode, text, time.monotonic() - clock.started)


async def _reader(pipe: BinaryIO) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    stream = asyncio.StreamReader(limit=LINE_LIMIT)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), pipe)
    return stream, transport


async def _follow(
    proc: asyncio.subprocess.Process, out: asyncio.StreamReader, clock: _Clock, on_line: LineHandler
) -> Cause:
    """Hand each output line to `on_line` until the CLI exits or a limit is reached."""
    exited = asyncio.ensure_future(proc.wait())
    try:
        while True:
            read = asyncio.ensure_future(out.readline())
            done, _ = await asyncio.wait(
                {read, exited}, timeout=clock.wait_s(), return_when=asyncio.FIRST_COMPLETED
            )
            if read not in done:
                read.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await read
                if exited in done:
                    return Cause.EXITED
                cause = clock.expired()
                if cause is not None:
                    return cause
                continue
            clock.touch()
            try:
                line = read.result()
            except ValueError:  # a line over LINE_LIMIT: dropped, the run goes on
                continue
            if not line:
                return Cause.EXITED
            if line.strip() and on_line(line):
                return Cause.LIMIT
    finally:
        exited.cancel()


async def _drain(stream: asyncio.StreamReader, tail: bytearray, clock: _Clock) -> None:
    """Keep the end of stderr; any output there also counts as a sign of life."""
    while chunk := await stream.read(65536):
        clock.touch()
        tail += chunk
        del tail[: max(0, len(tail) - STDERR_TAIL * 2)]


async def _settle(task: asyncio.Future[None]) -> None:
    """Give a reader a moment to take what is left in its pipe, then stop it."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), _DRAIN_S)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _finish_lines(out: asyncio.StreamReader, on_line: LineHandler) -> None:
    """Lines the CLI wrote just before it ended (the tree is dead, so the pipe closes soon)."""
    with contextlib.suppress(TimeoutError, ValueError):
        async with asyncio.timeout(_DRAIN_S):
            while line := await out.readline():
                if line.strip():
                    on_line(line)


async def _stop(proc: asyncio.subprocess.Process, graceful: bool) -> None:
    """Signal the process group and every process descended from the CLI (some CLIs start commands in
    new sessions, outside the group). Graceful: SIGTERM, a moment to exit, then SIGKILL for all."""
    victims = descendants(proc.pid)
    if graceful:
        _signal(proc.pid, victims, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), _GRACE_S)
    _signal(proc.pid, victims | descendants(proc.pid), signal.SIGKILL)
    await proc.wait()


def _signal(pgid: int, pids: set[int], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc (empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                parent = _parent_of(int(entry))
                if parent is not None:
                    children.setdefault(parent, []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None
