"""Running a fleet from the CLI: live progress while it runs, then a summary."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from shipyard.cli.progress import ProgressPrinter
from shipyard.fleet.run import Fleet, RunResult
from shipyard.fleet.runtime import Runtime
from shipyard.fleet.status import run_status


async def _run(rt: Runtime, printer: ProgressPrinter) -> RunResult:
    follower = asyncio.get_running_loop().create_task(printer.follow())
    try:
        return await Fleet(rt).run()
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        printer.drain()


def run_fleet(rt: Runtime, emit: Callable[[str], None]) -> tuple[RunResult, dict[str, Any]]:
    """Run to the end, printing progress; returns the result and the final status."""
    printer = ProgressPrinter(rt.board, emit)
    printer.skip_existing()
    try:
        result = asyncio.run(_run(rt, printer))
    except KeyboardInterrupt:
        rt.board.set_meta("state", "stopped")
        rt.board.set_meta("reason", "interrupted (Ctrl-C)")
        raise
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
