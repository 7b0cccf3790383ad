"""What a node builds for itself: the worker's model, from the run's settings and the node's own keys."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from shipyard.cli.build import build_models
from shipyard.cli.harden import harden
from shipyard.config import ShipyardConfig
from shipyard.domain import Role
from shipyard.models.base import Model
from shipyard.models.factory import parse_model_string


def node_models(config: ShipyardConfig, on_fatal: Callable[[str], None]) -> Mapping[Role, Model]:
    """The worker role's model, with retries and a breaker; keys are read from this node's environment
    (they never travel with a task)."""
    ref = parse_model_string(config.model_for(Role.WORKER))
    return harden(build_models(config, {Role.WORKER: ref}, os.environ), config, on_fatal)
