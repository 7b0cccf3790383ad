"""`CliBackend`: one external coding-agent CLI as an `AgentBackend`, with Shipyard's checks around it.

A run: a private home, a snapshot of everything outside the worktree, the CLI under supervision (its
events become the transcript), a second snapshot, then the role tools applied from its final answer.
Claiming, committing, merging and limits stay in Shipyard; the CLI only edits its worktree.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from shipyard.agent import AgentOutcome, AgentRun, Observer, StopReason, ToolResult
from shipyard.backends.bridge import Bridge
from shipyard.backends.dialect import CliSettings, Dialect, Job, Report, Transcript
from shipyard.backends.home import CliHome
from shipyard.backends.isolation import IsolationGuard
from shipyard.backends.process import Cause, Command, Ended, Watch, supervise
from shipyard.domain import Event
from shipyard.git.ref import rev_parse
from shipyard.git.run import git
from shipyard.models.base import ModelResponse
from shipyard.models.pricing import price_usd

Recorder = Callable[[Event], object]


def work_note(worktree: Path) -> str:
    """Where the CLI may work, and what Shipyard does for it."""
    return (
        f"Work only inside {worktree} (use absolute paths under it); never change files outside it. "
        "Do not commit, merge or switch branches: Shipyard commits and merges your changes."
    )


class CliBackend:
    """Runs one agent on an external CLI; every check and every record of the run is Shipyard's."""

    def __init__(
        self, dialect: Dialect, settings: CliSettings, guard: IsolationGuard, environ: Mapping[str, str]
    ) -> None:
        self.dialect = dialect
        self.settings = settings
        self.guard = guard
        self.environ = environ
        self.record: Recorder | None = None
        self.name = f"{dialect.name}:{settings.model or 'default'}"

    async def run(self, run: AgentRun, worktree: Path, observer: Observer | None) -> AgentOutcome:
        home = CliHome.create(self.dialect.name)
        try:
            return await self._run_in(home, run, worktree, observer)
        finally:
            home.remove()

    async def _run_in(
        self, home: CliHome, run: AgentRun, worktree: Path, observer: Observer | None
    ) -> AgentOutcome:
        bridge = Bridge.of(run)
        before = await asyncio.to_thread(self.guard.snapshot, worktree)
        start = await asyncio.to_thread(rev_parse, worktree, "HEAD")
        prompt = f"{run.prompt}\n\n{work_note(worktree)}\n\n{bridge.instructions()}"
        job = Job(run, worktree, home, self.settings, bridge.schema(), prompt, self.environ)
        launch = self.dialect.launch(job)
        transcript = self.dialect.transcript(run, observer)
        command = Command(launch.argv, worktree, launch.env, launch.stdin)
        watch = Watch(run.limits.wall_time_s, self.settings.idle_timeout_s)
        ended = await supervise(command, watch, _reader(transcript, run.limits.max_tokens))
        report = transcript.report
        cost = self._bill(run, report, observer)
        after = await asyncio.to_thread(self.guard.snapshot, worktree)
        problems = await asyncio.to_thread(self.guard.violations, before, after)
        if problems:
            return self._isolation_failed(run, report, cost, problems, observer)
        if start is not None:
            await asyncio.to_thread(_keep_own_commits_uncommitted, worktree, start)
        return await self._conclude(run, ended, report, cost, (bridge, observer))

    def _bill(self, run: AgentRun, report: Report, observer: Observer | None) -> float:
        """Record the run's tokens and cost: Shipyard's price if it knows one, else the CLI's own figure."""
        ours = price_usd(self.dialect.provider, self.settings.model or "", report.usage, self.settings.price)
        cost = ours if ours is not None else (report.cost_usd or 0.0)
        if observer is not None:
            text = f"[{self.dialect.name}] usage of the whole run ({report.steps} steps)"
            observer.model_called(run, report.steps, ModelResponse(text, (), report.usage, cost))
        return cost

    def _isolation_failed(
        self, run: AgentRun, report: Report, cost: float, problems: list[str], observer: Observer | None
    ) -> AgentOutcome:
        detail = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        message = f"isolation check failed: the {self.dialect.name} CLI changed things outside its worktree: "
        if observer is not None:
            result = ToolResult(message + detail, is_error=True)
            observer.tool_called(run, report.steps, "isolation_check", {"changes": problems[:50]}, result)
        self._event("IsolationViolated", run, {"cli": self.dialect.name, "changes": problems[:50]})
        return AgentOutcome(StopReason.MODEL_ERROR, None, report.usage, cost, report.steps, message + detail)

    async def _conclude(
        self,
        run: AgentRun,
        ended: Ended,
        report: Report,
        cost: float,
        tools: tuple[Bridge, Observer | None],
    ) -> AgentOutcome:
        def outcome(
            reason: StopReason, error: str | None = None, finish: dict[str, Any] | None = None
        ) -> AgentOutcome:
            return AgentOutcome(reason, finish, report.usage, cost, report.steps, error)

        if ended.cause is not Cause.EXITED:
            reason, error = self._stopped(run, ended)
            return outcome(reason, error)
        if report.stop is not None:
            return outcome(report.stop, report.error)
        if report.final is None:
            return outcome(*self._no_answer(ended, report))
        result = await tools[0].apply(report.final, run, tools[1], report.steps)
        if result.finish is None:
            return outcome(StopReason.NO_PROGRESS, f"the final answer was not accepted: {result.text}")
        return outcome(StopReason.FINISHED, finish=result.finish)

    def _stopped(self, run: AgentRun, ended: Ended) -> tuple[StopReason, str]:
        """A CLI that Shipyard stopped: why, in words, and as a stop reason."""
        cli = self.dialect.name
        if ended.cause is Cause.WALL_TIME:
            reason, error = (
                StopReason.WALL_TIME,
                f"{cli} ran past the wall-time limit ({run.limits.wall_time_s:g} s)",
            )
        elif ended.cause is Cause.IDLE:
            error = (
                f"{cli} printed nothing for {self.settings.idle_timeout_s:g} s: stopped as hung "
                "(waiting for input or a permission prompt?)"
            )
            reason = StopReason.NO_PROGRESS
        else:
            reason, error = StopReason.MAX_TOKENS, f"{cli} reached the token limit ({run.limits.max_tokens})"
        error += "; its process tree was killed"
        self._event("CliStopped", run, {"cli": cli, "cause": ended.cause.value, "reason": error})
        return reason, error

    def _no_answer(self, ended: Ended, report: Report) -> tuple[StopReason, str]:
        cli = self.dialect.name
        if report.error or ended.exit_code:
            stderr = ended.stderr_tail.strip().splitlines()[-3:]
            detail = report.error or " | ".join(stderr) or "no detail"
            return StopReason.MODEL_ERROR, f"{cli} failed (exit code {ended.exit_code}): {detail}"
        return StopReason.NO_PROGRESS, f"{cli} ended without the final structured answer"

    def _event(self, kind: str, run: AgentRun, data: dict[str, Any]) -> None:
        if self.record is not None:
            self.record(Event(kind, {"role": run.role.value, **data}, agent=run.agent))


def _reader(transcript: Transcript, max_tokens: int) -> Callable[[bytes], bool]:
    """Feed each JSON line to the transcript; ask to stop once the token limit is reached."""

    def on_line(line: bytes) -> bool:
        try:
            event = json.loads(line)
        except ValueError:
            return False  # a stray line of plain text: not an event
        if isinstance(event, dict):
            transcript.feed(event)
        return transcript.report.running_tokens >= max_tokens

    return on_line


def _keep_own_commits_uncommitted(worktree: Path, start: str) -> None:
    """Undo commits the CLI made itself (keeping their changes), so Shipyard commits everything."""
    if rev_parse(worktree, "HEAD") != start:
        git(worktree, "reset", "--soft", start)
