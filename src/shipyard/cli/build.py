"""The composition root: validates everything, then builds the concrete parts (only here)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from shipyard.agent.sandbox import require_sandbox
from shipyard.backends import BackendPicker, IsolationGuard, check_backends, covered_roles
from shipyard.backends.metering import RunHooks
from shipyard.board.sqlite import SqliteBoard
from shipyard.cli.checks import BOARD_FILE, archive_board, board_path, check_checkout
from shipyard.cli.harden import harden
from shipyard.cli.sim import build_sim_model, with_sim_goal
from shipyard.config import ShipyardConfig
from shipyard.domain import Role
from shipyard.errors import ConfigError, RepoError
from shipyard.fleet.budget import over_budget
from shipyard.fleet.chaos import ChaosRepo
from shipyard.fleet.ledger import totals_from_events
from shipyard.fleet.runtime import STATE_DIR, Runtime, StopSignal
from shipyard.git import GitRepo
from shipyard.models.base import Model
from shipyard.models.factory import (
    ModelRef,
    ProviderSettings,
    build_provider_model,
    check_provider_ready,
    parse_model_string,
)
from shipyard.models.pricing import Price
from shipyard.models.scripted import load_recorded


def validate(repo: GitRepo, config: ShipyardConfig, env: Mapping[str, str]) -> dict[Role, ModelRef]:
    """Every check that needs no writes: goal, branch, model strings, provider keys."""
    if not config.goal.strip():
        raise ConfigError("no goal: set `goal` (or `goal_file`) in shipyard.toml, or pass --goal TEXT")
    if not repo.branch_exists(config.branch):
        raise RepoError(
            f"branch `{config.branch}` does not exist in {repo.root}; "
            "create it or set `branch` in shipyard.toml"
        )
    check_checkout(repo, config.branch)
    require_sandbox(config.sandbox)  # no bubblewrap and no opt-out: one line, nothing written
    check_backends(config, env)  # a configured CLI that is missing, or its key, stops us here
    cli_only = covered_roles(config)
    refs = {role: parse_model_string(config.model_for(role)) for role in Role if role not in cli_only}
    for ref in refs.values():
        if ref.provider in ("openai", "anthropic"):
            check_provider_ready(ref, _settings(config, ref.provider), env)
        elif ref.provider == "scripted" and ref.model_id != "demo":
            path = Path(ref.model_id)
            if not path.is_file():
                raise ConfigError(
                    f"scripted model file `{ref.model_id}` not found; give a JSON file path or `demo`"
                )
        elif ref.provider not in ("scripted", "sim"):
            raise ConfigError(
                f"model provider `{ref.provider}` is not available in this version; use openai, "
                "anthropic, scripted or sim"
            )
    return refs


def _settings(config: ShipyardConfig, provider: str) -> ProviderSettings:
    p = config.providers.get(provider)
    if p is None:
        return ProviderSettings()
    return ProviderSettings(
        base_url=p.base_url, api_key_env=p.api_key_env, timeout_s=p.timeout_s, max_retries=p.max_retries
    )


def build_models(
    config: ShipyardConfig, refs: Mapping[Role, ModelRef], env: Mapping[str, str]
) -> dict[Role, Model]:
    """One model object per distinct model string, shared by the roles that use it."""
    built: dict[ModelRef, Model] = {}
    for ref in refs.values():
        if ref not in built:
            built[ref] = _build_one(config, ref, env)
    return {role: built[ref] for role, ref in refs.items()}


def _build_one(config: ShipyardConfig, ref: ModelRef, env: Mapping[str, str]) -> Model:
    if ref.provider == "sim":
        return build_sim_model(config)
    if ref.provider == "scripted":
        if ref.model_id == "demo":
            from shipyard.demo.script import demo_model

            return demo_model()
        return load_recorded(Path(ref.model_id))
    price_cfg = config.prices.get(f"{ref.provider}:{ref.model_id}")
    price = None if price_cfg is None else Price(price_cfg.input_per_mtok, price_cfg.output_per_mtok)
    return build_provider_model(ref, _settings(config, ref.provider), env, price)


def build_runtime(
    repo: GitRepo, config: ShipyardConfig, env: Mapping[str, str], fresh: bool = False
) -> Runtime:
    """Validate, then (and only then) create `.shipyard/` and open the board (archive the old if fresh)."""
    config = with_sim_goal(config)
    refs = validate(repo, config, env)
    stop = StopSignal()
    models = harden(build_models(config, refs, env), config, stop.set_fatal)
    if fresh:
        archive_board(repo)
    state = repo.root / STATE_DIR
    state.mkdir(exist_ok=True)
    repo.ensure_ignored(f"/{STATE_DIR}/")
    board = SqliteBoard(state / BOARD_FILE)
    totals = totals_from_events(board.events())
    if config.chaos.git_error_rate:
        repo = ChaosRepo.wrap(repo, config.chaos.git_error_rate, config.chaos.seed)
    rt = Runtime(config=config, repo=repo, board=board, models=models, stop=stop, totals=totals)
    if config.backends:
        guard = IsolationGuard(repo.root, config.branch, state)
        clis = check_backends(config, env)
        hooks = RunHooks(rt.record, lambda: over_budget(rt) or rt.stop.reason, rt.stop.set)
        rt.pick_backend = BackendPicker(clis, config.workers, guard, env, hooks, config)
    return rt


def open_board(repo: GitRepo) -> SqliteBoard:
    """The board of an existing run, for `status`; one clear line when there is none."""
    path = board_path(repo)
    if not path.exists():
        raise RepoError(f"no Shipyard run in {repo.root}; start one with `shipyard run {repo.root}`")
    return SqliteBoard(path)
