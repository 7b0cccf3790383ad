"""What each CLI module provides: how to launch it for a run, and how to read its JSON event stream."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shipyard.agent import AgentRun, Observer, StopReason
from shipyard.backends.home import CliHome
from shipyard.models.base import Usage
from shipyard.models.pricing import Price


@dataclass(frozen=True)
class CliSettings:
    """One configured CLI backend, resolved and checked at start-up."""

    cli: str
    binary: Path
    model: str | None
    api_key_env: str  # where Shipyard read the key (the CLI itself only ever gets a gateway token)
    api_key: str = field(repr=False)
    base_url: str | None = None  # the provider's URL, which only the gateway calls
    idle_timeout_s: float = 300.0
    price: Price | None = None
    share: float = 1.0


@dataclass(frozen=True)
class Endpoint:
    """Where a CLI sends its model calls: the gateway's URL for its provider, and its own run's token
    (worthless outside the run; the real key stays in Shipyard)."""

    base_url: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class Job:
    """Everything a dialect needs to launch one run."""

    run: AgentRun
    worktree: Path
    home: CliHome
    settings: CliSettings
    schema: dict[str, Any]
    prompt: str  # the role's prompt plus how to end the run and where to work
    environ: Mapping[str, str]
    endpoint: Endpoint
    confined: bool = False  # inside Shipyard's sandbox (the CLI's own sandbox is then not relied on)


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    stdin: Path  # a file holding the prompt: the CLI reads it and meets end-of-file, never a terminal


@dataclass
class Report:
    """What the CLI said about its run, filled in while its events are read."""

    final: dict[str, Any] | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    steps: int = 0
    error: str | None = None
    stop: StopReason | None = None  # the CLI stopped itself at one of our limits (e.g. max turns)
    running_tokens: int = 0  # an estimate while it runs, for the token limit


class Transcript(Protocol):
    """Reads one run's events, tells the observer about replies and tool calls, fills in the report."""

    report: Report

    def feed(self, event: dict[str, Any]) -> None: ...


class Dialect(Protocol):
    """One CLI: its name, which price table provider it bills as, how to launch and read it."""

    name: str
    provider: str

    def launch(self, job: Job) -> Launch: ...

    def transcript(self, run: AgentRun, observer: Observer | None) -> Transcript: ...
