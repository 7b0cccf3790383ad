"""Running a fleet from the CLI: live progress while it runs, then a summary."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import Any

from rich.console import Console

from shipyard.cli.build import build_executor
from shipyard.cli.progress import ProgressPrinter
from shipyard.fleet.executor import Executor
from shipyard.fleet.lock import RunLock
from shipyard.fleet.recovery import reconcile
from shipyard.fleet.run import Fleet, RunResult
from shipyard.fleet.runtime import Runtime
from shipyard.fleet.status import run_status


def _install_stop_keys(rt: Runtime, main: asyncio.Task[RunResult], emit: Callable[[str], None]) -> None:
    """First Ctrl-C (or SIGTERM) stops gracefully; a second one stops at once."""
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if rt.stop.is_set:
            emit("stopping at once; `shipyard resume` continues from here")
            main.cancel()
            return
        emit("stopping gracefully (press Ctrl-C again to stop at once)")
        rt.stop.set("interrupted (Ctrl-C)")

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)


async def _run(
    rt: Runtime, printer: ProgressPrinter, emit: Callable[[str], None], resume: bool, executor: Executor
) -> RunResult:
    loop = asyncio.get_running_loop()
    follower = loop.create_task(printer.follow())
    main = loop.create_task(Fleet(rt, executor).run(resume=resume))
    _install_stop_keys(rt, main, emit)
    try:
        return await main
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        printer.drain()


def run_fleet(
    rt: Runtime, emit: Callable[[str], None], resume: bool = False, console: Console | None = None
) -> tuple[RunResult, dict[str, Any]]:
    """Run to the end under the repository's run lock, printing progress; returns the result and status."""
    lock = RunLock(rt.state_dir)
    lock.acquire()
    executor: Executor | None = None
    try:
        executor = build_executor(rt.config)
        if resume:
            report = reconcile(rt)
            emit(f"recovered: {report.as_dict()}")
        printer = ProgressPrinter(rt.board, emit, console=console)  # a live summary on a terminal
        printer.skip_existing()
        result = asyncio.run(_run(rt, printer, emit, resume, executor))
    except asyncio.CancelledError:
        rt.board.set_meta("state", "stopped")
        rt.board.set_meta("reason", "interrupted at once; run `shipyard resume` to continue")
        result = RunResult("stopped", "interrupted at once", int(rt.board.get_meta("cycle") or 0), 0.0)
    finally:
        if executor is not None:
            executor.close()
        lock.release()
    return result, run_status(rt.board)


def summary_lines(result: RunResult, status: dict[str, Any]) -> list[str]:
    """The closing summary of a run."""
    t = status["tasks"]
    return [
        f"state: {result.state} ({result.reason})",
        f"tasks: {t['done']} done, {t['failed']} failed, {t['cancelled']} cancelled, "
        f"{t['open']} open, {t['claimed']} claimed",
        f"commits merged: {status['merged_commits']} by {len(status['authors'])} workers "
        f"({', '.join(status['authors'])}); merge conflicts: {status['conflicts']}",
        f"cycles: {result.cycles}; time: {result.duration_s:.1f}s; "
        f"tokens: {status['tokens']}; cost: ${status['cost_usd']:.4f}",
    ]
