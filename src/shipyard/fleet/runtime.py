"""`Runtime`: the typed bundle of parts the fleet works with, built once by the CLI."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shipyard.agent.backend import AgentBackend, LoopBackend
from shipyard.board.base import Board
from shipyard.config import ShipyardConfig
from shipyard.domain import Event, Role
from shipyard.git import GitRepo, Identity
from shipyard.models.base import Model
from shipyard.redact import Redactor

STATE_DIR = ".shipyard"
MERGES_KEPT = 10_000
HARNESS = Identity("Shipyard", "shipyard@shipyard.local")

Progress = Callable[[Event], None]
BackendPicker = Callable[[Role, str], AgentBackend | None]


def agent_identity(agent: str) -> Identity:
    """The git identity an agent's commits carry."""
    return Identity(agent, f"{agent}@shipyard.local")


@dataclass
class StopSignal:
    """Set by a budget, a limit or the person; the fleet stops claiming and winds down."""

    reason: str = ""
    fatal: bool = False
    _event: asyncio.Event = field(default_factory=asyncio.Event)

    def set(self, reason: str) -> None:
        if not self.reason:
            self.reason = reason
        self._event.set()

    def set_fatal(self, reason: str) -> None:
        """A problem no retry can fix (bad key, unknown model): the run stops and says so."""
        if not self.reason:
            self.fatal = True
        self.set(reason)

    @property
    def is_set(self) -> bool:
        return self._event.is_set()


@dataclass
class Totals:
    """Tokens and cost spent so far in the run."""

    tokens: int = 0
    cost_usd: float = 0.0
    by_role_usd: dict[str, float] = field(default_factory=dict)


@dataclass
class Runtime:
    config: ShipyardConfig
    repo: GitRepo
    board: Board
    models: Mapping[Role, Model]
    progress: Progress | None = None
    stop: StopSignal = field(default_factory=StopSignal)
    totals: Totals = field(default_factory=Totals)
    started_monotonic: float = field(default_factory=time.monotonic)
    # Picks an external backend for (role, agent name); None means the built-in loop on `models[role]`.
    pick_backend: BackendPicker | None = None
    # Wraps each role's model before use (the fleet adds its budget guard here).
    guard_model: Callable[[Role, Model], Model] | None = None
    # When each task last showed a sign of life (an event), for stall detection.
    last_seen: dict[int, float] = field(default_factory=dict)
    # Why an agent was cancelled (e.g. stalled), so its task goes back with the reason.
    cancel_reasons: dict[int, str] = field(default_factory=dict)
    # The latest merges this process saw (`CommitMerged`), for bisecting a red branch without a log scan.
    merges: deque[Event] = field(default_factory=lambda: deque(maxlen=MERGES_KEPT))
    # Planners to wake out of turn, with what they must hear (e.g. the shared branch went red).
    wake_requests: list[tuple[str, str]] = field(default_factory=list)
    # One redactor for every transcript: it remembers the long texts it has already masked.
    redact: Redactor = field(default_factory=Redactor)

    @property
    def state_dir(self) -> Path:
        return self.repo.root / STATE_DIR

    def worktree_path(self, name: str) -> Path:
        return self.state_dir / "worktrees" / name

    def parking_spot(self, agent: str) -> Path:
        """Where `agent`'s last checkout waits to be reused by its next worktree (see `git.parking`)."""
        return self.state_dir / "worktrees" / ".parked" / agent

    def prompts_dir(self) -> Path:
        return self.repo.root / self.config.prompts_dir

    def backend(self, role: Role, agent: str) -> AgentBackend:
        """The backend that runs this agent."""
        chosen = self.pick_backend(role, agent) if self.pick_backend is not None else None
        if chosen is not None:
            return chosen
        model = self.models[role]
        return LoopBackend(self.guard_model(role, model) if self.guard_model else model)

    def control(self) -> str:
        """What the person asked for through `shipyard pause|stop` or the dashboard: "", pause or stop."""
        return self.board.get_meta("control") or ""

    def record(self, event: Event) -> Event:
        """Append an event to the log and show it as progress."""
        stored = self.board.append(event)
        self.show(stored)
        return stored

    def show(self, stored: Event) -> None:
        """Show an event already in the log as progress (and as a sign of life of its task)."""
        if stored.task_id is not None:
            self.last_seen[stored.task_id] = time.monotonic()
        if stored.kind == "CommitMerged":
            self.merges.append(stored)
        if self.progress is not None:
            self.progress(stored)
