"""`CliBackend`: one external coding-agent CLI as an `AgentBackend`, with Shipyard's checks around it.

A run: a private home, a snapshot of everything outside the worktree, the CLI under supervision (its
events become the transcript), a second snapshot, then the role tools applied from its final answer.
Claiming, committing, merging and limits stay in Shipyard; the CLI only edits its worktree.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shipyard.agent import AgentOutcome, AgentRun, Observer, StopReason, ToolResult
from shipyard.backends.bridge import Bridge
from shipyard.backends.confine import INNER_PORT, CliSandbox, Confined
from shipyard.backends.dialect import CliSettings, Dialect, Endpoint, Job, Report, Transcript
from shipyard.backends.home import CliHome
from shipyard.backends.isolation import IsolationGuard
from shipyard.backends.metering import GatewaySession, RunHooks, upstream_for
from shipyard.backends.process import Cause, Command, Ended, Watch, supervise
from shipyard.domain import Event
from shipyard.gateway import Gateway
from shipyard.git.ref import rev_parse
from shipyard.git.run import git
from shipyard.models.base import ModelResponse, Usage
from shipyard.models.pricing import price_usd

Recorder = Callable[[Event], object]


def work_note(worktree: Path) -> str:
    """Where the CLI may work, and what Shipyard does for it."""
    return (
        f"Work only inside {worktree} (use absolute paths under it); never change files outside it. "
        "Do not commit, merge or switch branches: Shipyard commits and merges your changes. "
        "Where the instructions above name tools such as read_file, grep, edit_file or shell, use your "
        "own tools for the same purpose."
    )


class CliBackend:
    """Runs one agent on an external CLI; every check and every record of the run is Shipyard's."""

    def __init__(
        self,
        dialect: Dialect,
        settings: CliSettings,
        guard: IsolationGuard,
        environ: Mapping[str, str],
        gateway: tuple[Gateway, str] | None = None,
    ) -> None:
        """`gateway`: the fleet's gateway and this CLI's upstream on it (else one of its own)."""
        self.dialect = dialect
        self.settings = settings
        self.guard = guard
        self.environ = environ
        if gateway is None:
            gateway = (
                Gateway([upstream_for(settings, dialect.provider, dialect.provider)]),
                dialect.provider,
            )
        self.gateway, self.upstream = gateway
        self.hooks = RunHooks()
        self.sandbox: CliSandbox | None = None  # None: unconfined
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
        transcript = self.dialect.transcript(run, observer)
        async with self._session(run, observer, transcript.report) as session:
            job = Job(
                run, worktree, home, self.settings, bridge.schema(), prompt, self.environ, session.endpoint
            )
            command, confined = self._command(job)
            watch = Watch(run.limits.wall_time_s, self.settings.idle_timeout_s)
            try:
                ended = await supervise(command, watch, _reader(transcript, run.limits.max_tokens))
            finally:
                if confined is not None:
                    confined.close()
        done = _Ran(run, observer, ended, transcript.report)
        self._bill(done, session)
        after = await asyncio.to_thread(self.guard.snapshot, worktree)
        problems = await asyncio.to_thread(self.guard.violations, before, after)
        if problems:
            return self._isolation_failed(done, problems)
        if start is not None:
            await asyncio.to_thread(_keep_own_commits_uncommitted, worktree, start)
        return await self._conclude(done, bridge)

    def _command(self, job: Job) -> tuple[Command, Confined | None]:
        """The CLI's command line: inside the sandbox (reaching the gateway through its forwarder on the
        sandbox's own loopback) unless the project turned the sandbox off."""
        if self.sandbox is None or not self.sandbox.confined:
            launch = self.dialect.launch(job)
            return Command(launch.argv, job.worktree, launch.env, launch.stdin), None
        inner = Endpoint(f"http://127.0.0.1:{INNER_PORT}/{self.upstream}", job.endpoint.token)
        launch = self.dialect.launch(replace(job, endpoint=inner, confined=True))
        venv = [Path(self.environ["VIRTUAL_ENV"])] if self.environ.get("VIRTUAL_ENV") else []
        confined = self.sandbox.wrap(launch.argv, job.worktree, job.home.root, self.gateway.socket, venv)
        return Command(confined.argv, job.worktree, launch.env, launch.stdin), confined

    def _session(self, run: AgentRun, observer: Observer | None, report: Report) -> GatewaySession:
        session = GatewaySession(self.gateway, self.upstream, run, report)
        session.observer, session.hooks = observer, self.hooks
        session.pricing = (self.dialect.provider, self.settings)
        return session

    def _bill(self, done: _Ran, session: GatewaySession) -> None:
        """The run's tokens and cost as the gateway metered them call by call (already in the transcript);
        for a CLI that made no call through it, Shipyard's price of the CLI's own figures, else its cost."""
        report = done.report
        done.refused = session.refused
        if session.calls:
            report.usage, done.cost_usd = session.usage, session.cost_usd
            if not session.priced and report.cost_usd:  # no price known: the CLI's own figure, once
                done.cost_usd = report.cost_usd
                self._summary(done, Usage(), report.cost_usd)
            return
        ours = price_usd(self.dialect.provider, self.settings.model or "", report.usage, self.settings.price)
        done.cost_usd = ours if ours is not None else (report.cost_usd or 0.0)
        self._summary(done, report.usage, done.cost_usd)

    def _summary(self, done: _Ran, usage: Usage, cost_usd: float) -> None:
        if done.observer is not None:
            text = f"[{self.dialect.name}] usage of the whole run ({done.report.steps} steps)"
            done.observer.model_called(done.run, done.report.steps, ModelResponse(text, (), usage, cost_usd))

    def _isolation_failed(self, done: _Ran, problems: list[str]) -> AgentOutcome:
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        message = (
            f"isolation check failed: the {self.dialect.name} CLI changed things outside its worktree: "
            + "; ".join(problems[:10])
            + more
        )
        if done.observer is not None:
            result = ToolResult(message, is_error=True)
            args = {"changes": problems[:50]}
            done.observer.tool_called(done.run, done.report.steps, "isolation_check", args, result)
        self._event("IsolationViolated", done.run, {"cli": self.dialect.name, "changes": problems[:50]})
        return done.outcome(StopReason.MODEL_ERROR, message)

    async def _conclude(self, done: _Ran, bridge: Bridge) -> AgentOutcome:
        """How the run ended: stopped by Shipyard, by the CLI itself, without an answer, or finished."""
        report = done.report
        if done.ended.cause is not Cause.EXITED:
            return done.outcome(*self._stopped(done))
        if report.stop is not None:
            return done.outcome(report.stop, report.error)
        if report.final is None:
            return done.outcome(*self._no_answer(done))
        result = await bridge.apply(report.final, done.run, done.observer, report.steps)
        if result.finish is None:
            return done.outcome(StopReason.NO_PROGRESS, f"the final answer was not accepted: {result.text}")
        return done.outcome(StopReason.FINISHED, finish=result.finish)

    def _stopped(self, done: _Ran) -> tuple[StopReason, str]:
        """A CLI that Shipyard stopped: why, as a stop reason and in words."""
        cli, limits, cause = self.dialect.name, done.run.limits, done.ended.cause
        if cause is Cause.WALL_TIME:
            reason, error = (
                StopReason.WALL_TIME,
                f"{cli} ran past the wall-time limit ({limits.wall_time_s:g} s)",
            )
        elif cause is Cause.IDLE:
            reason = StopReason.NO_PROGRESS
            error = (
                f"{cli} printed nothing for {self.settings.idle_timeout_s:g} s: stopped as hung "
                "(waiting for input or a permission prompt?)"
            )
        else:
            reason, error = StopReason.MAX_TOKENS, f"{cli} reached the token limit ({limits.max_tokens})"
        error += "; its process tree was killed"
        self._event("CliStopped", done.run, {"cli": cli, "cause": cause.value, "reason": error})
        return reason, error

    def _no_answer(self, done: _Ran) -> tuple[StopReason, str]:
        """A CLI that exited without a final answer: it failed, or it just stopped."""
        cli, ended, report = self.dialect.name, done.ended, done.report
        if done.refused:
            reason = (
                StopReason.MAX_TOKENS if done.refused.startswith("this agent") else StopReason.MODEL_ERROR
            )
            return reason, f"{cli} stopped: the gateway refused its call: {done.refused}"
        if report.error or ended.exit_code:
            stderr = ended.stderr_tail.strip().splitlines()[-3:]
            detail = report.error or " | ".join(stderr) or "no detail"
            return StopReason.MODEL_ERROR, f"{cli} failed (exit code {ended.exit_code}): {detail}"
        return StopReason.NO_PROGRESS, f"{cli} ended without the final structured answer"

    def _event(self, kind: str, run: AgentRun, data: dict[str, Any]) -> None:
        if self.hooks.record is not None:
            self.hooks.record(Event(kind, {"role": run.role.value, **data}, agent=run.agent))


@dataclass
class _Ran:
    """One CLI run after its process ended: what it was asked, who listens, how it ended, what it cost."""

    run: AgentRun
    observer: Observer | None
    ended: Ended
    report: Report
    cost_usd: float = 0.0
    refused: str = ""  # why the gateway refused a call of this run (a limit or the budget)

    def outcome(
        self, reason: StopReason, error: str | None = None, finish: dict[str, Any] | None = None
    ) -> AgentOutcome:
        report = self.report
        return AgentOutcome(reason, finish, report.usage, self.cost_usd, report.steps, error)


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
