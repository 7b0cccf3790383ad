"""Wiring for the `sim` model: its workload from the `[sim]` table, and the goal of a simulated run."""

from __future__ import annotations

from shipyard.config import ShipyardConfig
from shipyard.domain import Role
from shipyard.errors import ConfigError
from shipyard.models.factory import parse_model_string
from shipyard.models.sim import SimModel, SimWorkload, default_goal


def sim_workload(config: ShipyardConfig) -> SimWorkload:
    """The simulated workload the `[sim]` table describes, within the fleet's per-planner task limit."""
    s = config.sim
    return SimWorkload(
        tasks=s.tasks,
        think_ms=s.think_ms,
        think_jitter=s.think_jitter,
        hot_share=s.hot_share,
        hot_files=s.hot_files,
        seed=s.seed,
        folder=s.folder,
        area_size=s.area_size,
        per_planner=config.fleet.max_tasks_per_planner,
        usd_per_mtok=s.usd_per_mtok,
    )


def build_sim_model(config: ShipyardConfig) -> SimModel:
    return SimModel(sim_workload(config))


def with_sim_goal(config: ShipyardConfig) -> ShipyardConfig:
    """A run whose every role is `sim` and that has no goal gets the simulated workload as its goal."""
    if config.goal.strip():
        return config
    try:
        all_sim = all(parse_model_string(config.model_for(r)).provider == "sim" for r in Role)
    except ConfigError:
        return config  # validation reports the missing or bad model string
    if not all_sim:
        return config
    return config.model_copy(update={"goal": default_goal(sim_workload(config))})
