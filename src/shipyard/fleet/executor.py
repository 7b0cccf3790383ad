"""Where a worker runs: the `Executor` seam. `LocalExecutor` (in this process) is the default; the Ray
executor (`shipyard.cluster`) runs the same worker on cluster nodes and lands its commit here."""

from __future__ import annotations

from typing import Protocol

from shipyard.fleet.chaos import TaskRunner
from shipyard.fleet.merger import Merger
from shipyard.fleet.runtime import Runtime
from shipyard.fleet.worker import work_on


class Executor(Protocol):
    name: str

    def runner(self, rt: Runtime, merger: Merger) -> TaskRunner:
        """What carries one claimed code task to its end (merged, returned to the board, or failed)."""
        ...

    def close(self) -> None:
        """Let go of what the executor holds (connections, actors); the run is over."""
        ...


class LocalExecutor:
    """Workers in this process, each in a worktree of the repository."""

    name = "local"

    def runner(self, rt: Runtime, merger: Merger) -> TaskRunner:
        return lambda slot, task: work_on(rt, merger, slot, task)

    def close(self) -> None:
        pass
