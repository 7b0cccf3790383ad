"""One agent session: a worktree, the role's prompt and tools, the agent loop, the ledger."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from shipyard.agent import (
    AgentLimits,
    AgentOutcome,
    AgentRun,
    Tool,
    render_prompt,
    role_tools,
    workspace_tools,
)
from shipyard.agent.roles import TaskSink
from shipyard.agent.sandbox import Sandbox
from shipyard.domain import Event, Role
from shipyard.fleet.ledger import LedgerObserver
from shipyard.fleet.runtime import Runtime

_READ_ONLY = frozenset({"read_file", "list_dir", "grep"})


@dataclass(frozen=True)
class Session:
    role: Role
    agent: str
    worktree: Path
    variables: Mapping[str, str]
    task_id: int | None = None
    sink: TaskSink | None = None
    can_delegate: bool = False


def _tools(rt: Runtime, s: Session) -> tuple[Tool, ...]:
    work = workspace_tools(s.worktree, rt.config.fleet.shell_timeout_s, Sandbox.of(rt.config.sandbox))
    if s.role in (Role.PLANNER, Role.SUBPLANNER):
        work = tuple(t for t in work if t.spec.name in _READ_ONLY)
    elif s.role is Role.JUDGE:
        work = tuple(t for t in work if t.spec.name in _READ_ONLY or t.spec.name == "shell")
    return work + role_tools(s.role, s.sink, s.can_delegate)


async def run_session(rt: Runtime, s: Session) -> AgentOutcome:
    """Run one agent to its end (finished, or stopped by a limit) and return its outcome."""
    system, prompt = render_prompt(s.role, s.variables, rt.prompts_dir(), rt.repo.root)
    lim = rt.config.limits
    limits = AgentLimits(max_steps=lim.max_steps, wall_time_s=lim.wall_time_s, max_tokens=lim.max_tokens)
    run = AgentRun(
        role=s.role, agent=s.agent, system=system, prompt=prompt, tools=_tools(rt, s), limits=limits
    )
    backend = rt.backend(s.role, s.agent)
    outcome = await backend.run(run, s.worktree, LedgerObserver(rt, s.task_id))
    data = {
        "role": s.role.value,
        "backend": backend.name,
        "stop_reason": outcome.stop_reason.value,
        "steps": outcome.steps,
        "error": outcome.error or "",
    }
    rt.record(Event("AgentFinished", data, s.task_id, s.agent))
    return outcome


@asynccontextmanager
async def snapshot(rt: Runtime, name: str) -> AsyncIterator[Path]:
    """A throwaway worktree at the shared branch's tip, for planners and the judge to read."""
    path = rt.worktree_path(name)
    branch = f"shipyard/{name}"
    tip = rt.repo.rev_parse(rt.config.branch) or rt.config.branch
    try:
        await asyncio.to_thread(rt.repo.add_worktree, path, branch, tip)
        yield path
    finally:
        await asyncio.to_thread(rt.repo.remove_worktree, path, branch)
