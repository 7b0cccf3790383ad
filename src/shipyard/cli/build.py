"""The composition root: builds the concrete parts (only here), after `preflight` checked everything."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from shipyard.backends import BackendPicker, IsolationGuard, check_backends
from shipyard.backends.dialect import CliSettings
from shipyard.backends.metering import RunHooks
from shipyard.board.sqlite import SqliteBoard
from shipyard.cli.checks import BOARD_FILE, archive_board, board_path
from shipyard.cli.harden import harden
from shipyard.cli.preflight import Checked, provider_settings
from shipyard.cli.sim import build_sim_model
from shipyard.config import ShipyardConfig
from shipyard.domain import Role
from shipyard.errors import RepoError
from shipyard.fleet.attempts import set_aside_earlier_runs
from shipyard.fleet.budget import over_budget
from shipyard.fleet.chaos import ChaosRepo
from shipyard.fleet.executor import Executor, LocalExecutor
from shipyard.fleet.ledger import totals_from_events
from shipyard.fleet.runtime import STATE_DIR, Runtime, StopSignal
from shipyard.git import GitRepo
from shipyard.models.base import Model
from shipyard.models.factory import HTTP_PROVIDERS, ModelRef, build_provider_model
from shipyard.models.generation import Generation, GenerationModel
from shipyard.models.pricing import Price
from shipyard.models.scripted import load_recorded


def build_models(
    config: ShipyardConfig, refs: Mapping[Role, ModelRef], env: Mapping[str, str]
) -> dict[Role, Model]:
    """One model object per distinct model string, shared by the roles that use it."""
    built: dict[ModelRef, Model] = {}
    for ref in refs.values():
        if ref not in built:
            built[ref] = _build_one(config, ref, env)
            if ref.provider in HTTP_PROVIDERS:
                built[ref] = GenerationModel(built[ref], _generations(config))
    return {role: built[ref] for role, ref in refs.items()}


def _generations(config: ShipyardConfig) -> dict[Role, Generation]:
    """`[generation.*]` of shipyard.toml, per role."""
    return {role: Generation(**config.generation_for(role).model_dump()) for role in Role}


def _build_one(config: ShipyardConfig, ref: ModelRef, env: Mapping[str, str]) -> Model:
    if ref.provider == "sim":
        return build_sim_model(config)
    if ref.provider == "scripted":
        if ref.model_id == "demo":
            from shipyard.demo.script import demo_model

            return demo_model()
        return load_recorded(Path(ref.model_id))
    price_cfg = config.prices.get(f"{ref.provider}:{ref.model_id}")
    price = None if price_cfg is None else Price(**price_cfg.model_dump())
    return build_provider_model(ref, provider_settings(config.provider_config(ref.provider)), env, price)


def build_runtime(checked: Checked, env: Mapping[str, str], fresh: bool = False) -> Runtime:
    """After preflight (and only then): create `.shipyard/`, open the board (archive the old if fresh)."""
    repo, config, refs = checked.repo, checked.config, checked.refs
    stop = StopSignal()
    models = harden(build_models(config, refs, env), config, stop.set_fatal)
    if fresh:
        archive_board(repo)
    state = repo.root / STATE_DIR
    state.mkdir(exist_ok=True)
    repo.ensure_ignored(f"/{STATE_DIR}/")
    board = SqliteBoard(state / BOARD_FILE)
    set_aside_earlier_runs(repo, board)  # a new board numbers tasks from 1: older kept attempts move aside
    totals = totals_from_events(board.events())
    if config.chaos.git_error_rate:
        repo = ChaosRepo.wrap(repo, config.chaos.git_error_rate, config.chaos.seed)
    rt = Runtime(config=config, repo=repo, board=board, models=models, stop=stop, totals=totals)
    if config.backends:
        guard = IsolationGuard(repo.root, config.branch, state)
        rt.pick_backend = cli_picker(rt, check_backends(config, env), guard, env)
    return rt


def cli_picker(
    rt: Runtime, clis: Mapping[Role, list[CliSettings]], guard: IsolationGuard, env: Mapping[str, str]
) -> BackendPicker:
    """The run's CLI backends (here, or on a Ray node for its workers): every call through their gateway
    metered into `rt`'s log, refused once `rt`'s budget is reached or the run stopped."""
    hooks = RunHooks(rt.record, lambda: over_budget(rt) or rt.stop.reason, rt.stop.set)
    return BackendPicker(clis, rt.config.workers, guard, env, hooks, rt.config)


def build_executor(config: ShipyardConfig) -> Executor:
    """Where workers run: in this process, or on the Ray cluster `[cluster]` names (imported only then)."""
    if config.cluster.engine == "ray":
        from shipyard.cluster.executor import RayExecutor

        return RayExecutor(config.cluster, config.workers)
    return LocalExecutor()


def open_board(repo: GitRepo) -> SqliteBoard:
    """The board of an existing run, for `status`; one clear line when there is none."""
    path = board_path(repo)
    if not path.exists():
        raise RepoError(f"no Shipyard run in {repo.root}; start one with `shipyard run {repo.root}`")
    return SqliteBoard(path)
