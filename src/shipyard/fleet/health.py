"""The health of the shared branch: the check command run on its tip after merges, one run at a time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from shipyard.agent.sandbox import Sandbox
from shipyard.agent.shell import CommandResult, run_command
from shipyard.domain import Event
from shipyard.errors import GitError
from shipyard.fleet.runtime import Runtime

_TAIL_CHARS = 3000


@dataclass(frozen=True)
class CheckResult:
    sha: str
    passed: bool
    exit_code: int
    output_tail: str
    duration_s: float

    def describe(self) -> str:
        verdict = "PASSED" if self.passed else f"FAILED (exit code {self.exit_code})"
        return f"check on {self.sha[:10]}: {verdict} in {self.duration_s:.1f}s\n{self.output_tail}"


class HealthMonitor:
    """Runs the check on the newest tip whenever asked; requests that pile up collapse into one run."""

    def __init__(self, rt: Runtime, on_result: Callable[[CheckResult], None] | None = None) -> None:
        self._rt = rt
        self._on_result = on_result
        self._wanted = asyncio.Event()
        self._lock = asyncio.Lock()
        self.last: CheckResult | None = None
        self._runner: asyncio.Task[None] | None = None

    def request(self, _sha: str = "") -> None:
        """Ask for a check of the tip; cheap, never blocks a merge."""
        if not self._rt.config.check:
            return
        self._wanted.set()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self._wanted.is_set():
            self._wanted.clear()
            await self.check_tip()

    async def check_tip(self) -> CheckResult | None:
        """Run the check on the current tip unless that tip was already checked."""
        if not self._rt.config.check:
            return None
        async with self._lock:
            tip = self._rt.repo.rev_parse(self._rt.config.branch) or ""
            if self.last is not None and self.last.sha == tip:
                return self.last
            self.last = await self._run(tip)
            return self.last

    async def settle(self) -> CheckResult | None:
        """Wait for a pending run, then make sure the final tip is checked."""
        if self._runner is not None:
            await self._runner
        return await self.check_tip()

    async def _run(self, tip: str) -> CheckResult:
        result = await run_check(self._rt, tip, "check")
        data = {
            "sha": tip,
            "passed": result.passed,
            "exit_code": result.exit_code,
            "duration_s": round(result.duration_s, 3),
            "output_tail": result.output_tail[-800:],
        }
        self._rt.record(Event("CheckRan", data))
        if self._on_result is not None:
            self._on_result(result)
        return result


async def run_check(rt: Runtime, sha: str, name: str) -> CheckResult:
    """Run the check command on commit `sha` in a scratch worktree called `name` (removed after)."""
    path, branch = rt.worktree_path(name), f"shipyard/{name}"
    repo, spot = rt.repo, rt.parking_spot(name)
    started = time.monotonic()
    try:
        await asyncio.to_thread(repo.add_worktree, path, branch, sha, spot)
        cfg = rt.config
        res = await run_command(cfg.check, path, cfg.fleet.check_timeout_s, Sandbox.of(cfg.sandbox))
    except GitError as exc:
        res = CommandResult(exit_code=-1, output=f"the check could not run: {exc}", timed_out=False)
    finally:
        await asyncio.to_thread(repo.remove_worktree, path, branch, spot)
    return CheckResult(
        sha, res.exit_code == 0, res.exit_code, res.output[-_TAIL_CHARS:], time.monotonic() - started
    )
