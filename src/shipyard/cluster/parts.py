"""What a node builds for itself: the worker's model and the workers' CLI backends (with a gateway of the
node's own), from the run's settings and the node's own keys, which never travel with a task."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from pathlib import Path

from shipyard.agent import AgentOutcome, AgentRun, Observer, StopReason
from shipyard.backends import IsolationGuard, check_backends
from shipyard.backends.catalog import covered_roles, on_nodes
from shipyard.cli.build import build_models, cli_picker
from shipyard.cli.harden import harden
from shipyard.config import ShipyardConfig
from shipyard.domain import Role
from shipyard.errors import ShipyardError
from shipyard.fleet.budget import BudgetedModel
from shipyard.fleet.runtime import Runtime
from shipyard.models.base import Model, Usage
from shipyard.models.factory import parse_model_string


def node_models(config: ShipyardConfig, on_fatal: Callable[[str], None]) -> Mapping[Role, Model]:
    """The worker role's model, with retries and a breaker; keys are read from this node's environment
    (they never travel with a task). None when CLIs play every worker slot."""
    if Role.WORKER in covered_roles(config):
        return {}
    ref = parse_model_string(config.model_for(Role.WORKER))
    return harden(build_models(config, {Role.WORKER: ref}, os.environ), config, on_fatal)


def equip(rt: Runtime, slot_dir: Path, on_fatal: Callable[[str], None]) -> None:
    """Give a node's task runtime the run's limits: the built-in loop checks `rt`'s budget and stop
    before each call, and the configured worker CLIs (by share, as locally) reach their provider only
    through a gateway in this process, with this node's key, refusing calls on the same terms."""
    rt.guard_model = lambda role, model: BudgetedModel(model, rt, role)
    table = on_nodes(rt.config)
    if not table:
        return
    env = dict(os.environ)
    try:
        clis = check_backends(rt.config, env, table)
    except ShipyardError as exc:  # this node lacks the CLI or its key: the run stops and says where
        reason = f"on Ray node {socket.gethostname()}: {exc}"
        on_fatal(reason)
        rt.pick_backend = lambda role, agent: Unavailable(reason)
        return
    guard = IsolationGuard(rt.repo.root, rt.config.branch, slot_dir)
    rt.pick_backend = cli_picker(rt, clis, guard, env)


class Unavailable:
    """The backend of a slot whose CLI cannot run on its node: every run ends at once with the reason."""

    name = "unavailable"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def run(self, run: AgentRun, worktree: Path, observer: Observer | None) -> AgentOutcome:
        del run, worktree, observer
        return AgentOutcome(StopReason.MODEL_ERROR, None, Usage(), 0.0, 0, self.reason)
