"""The `AgentBackend` seam: runs one agent for one role in one worktree and returns its outcome.

The built-in tool-calling loop is one backend; external coding-agent CLIs plug in beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from shipyard.agent.loop import AgentOutcome, AgentRun, Observer, run_agent
from shipyard.models.base import Model


class AgentBackend(Protocol):
    name: str

    async def run(self, run: AgentRun, worktree: Path, observer: Observer | None) -> AgentOutcome:
        """Run the agent to its end; role tools' payloads come back in `AgentOutcome.finish`."""
        ...


class LoopBackend:
    """The built-in loop over a `Model`."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.name = f"loop:{model.name}"

    async def run(self, run: AgentRun, worktree: Path, observer: Observer | None) -> AgentOutcome:
        del worktree  # the loop's tools are already bound to it
        return await run_agent(self.model, run, observer)
