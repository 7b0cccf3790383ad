"""`shipyard.toml` plus CLI overrides, validated once into a typed `ShipyardConfig`."""

from __future__ import annotations

import importlib.util
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from shipyard.domain import Role
from shipyard.errors import ConfigError

CONFIG_NAME = "shipyard.toml"
ROLE_NAMES = ", ".join(r.value for r in Role)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitsConfig(_Strict):
    """Per-agent limits: an agent over one is stopped and its handoff recorded."""

    max_steps: int = Field(60, ge=1)
    wall_time_s: float = Field(1800.0, gt=0)
    max_tokens: int = Field(2_000_000, ge=1)


class BudgetConfig(_Strict):
    """Run budgets; 0 means no limit."""

    usd: float = Field(0.0, ge=0)
    tokens: int = Field(0, ge=0)
    wall_time_s: float = Field(0.0, ge=0)
    role_usd: dict[str, float] = Field(default_factory=dict)


class FleetConfig(_Strict):
    max_attempts: int = Field(3, ge=1)
    max_conflict_rounds: int = Field(3, ge=0)
    conflict_hold_s: float = Field(600.0, ge=0)
    lease_s: float = Field(300.0, gt=0)
    max_depth: int = Field(2, ge=0)
    max_tasks_per_planner: int = Field(30, ge=1)
    planner_wakes: int = Field(3, ge=0)
    shell_timeout_s: float = Field(300.0, gt=0)
    check_timeout_s: float = Field(900.0, gt=0)
    stall_s: float = Field(600.0, gt=0)
    red_main: Literal["fix", "revert"] = "fix"  # on a red shared branch: a fix task, or revert the culprit


class RetryConfig(_Strict):
    """Retries of failed model calls, and the circuit breaker per provider."""

    max_attempts: int = Field(6, ge=1)
    base_s: float = Field(1.0, ge=0)
    max_s: float = Field(60.0, ge=0)
    breaker_threshold: int = Field(5, ge=1)
    breaker_cooldown_s: float = Field(30.0, ge=0)


class ChaosConfig(_Strict):
    """Seeded fault injection for the simulator: every rate is a probability per call or per task."""

    model_error_rate: float = Field(0.0, ge=0, le=1)
    worker_death_rate: float = Field(0.0, ge=0, le=1)
    git_error_rate: float = Field(0.0, ge=0, le=1)
    kill_rate: float = Field(0.0, ge=0, le=1)
    seed: int = 0

    @property
    def active(self) -> bool:
        return any((self.model_error_rate, self.worker_death_rate, self.git_error_rate, self.kill_rate))


# How an attempt may end (see `shipyard.fleet.attempts.ENDINGS`), for `[attempts] continue_after`.
ATTEMPT_ENDINGS = (
    "limit",
    "error",
    "no_progress",
    "stalled",
    "stopped",
    "cancelled",
    "crashed",
    "interrupted",
    "conflict",
    "no_merge",
    "failed",
)


class AttemptsConfig(_Strict):
    """`[attempts]`: attempts that did not land are kept on refs; a retry may continue the last one."""

    keep: bool = True
    continue_after: list[str] = Field(
        default_factory=lambda: ["limit", "error", "stalled", "stopped", "crashed", "interrupted"]
    )

    @field_validator("continue_after")
    @classmethod
    def _known_endings(cls, value: list[str]) -> list[str]:
        for item in value:
            if item not in ATTEMPT_ENDINGS:
                raise ValueError(f"unknown ending `{item}`; expected some of {', '.join(ATTEMPT_ENDINGS)}")
        return value


class SandboxConfig(_Strict):
    """`[sandbox]`: how agent commands (the shell tool and the check) are confined; 0 turns a limit off."""

    enabled: bool = True
    network: bool = False
    allow_unsandboxed: bool = False
    max_processes: int = Field(512, ge=0)
    memory_mb: int = Field(8192, ge=0)
    max_file_mb: int = Field(4096, ge=0)
    tmp_mb: int = Field(1024, ge=0)
    extra_ro_paths: list[str] = Field(default_factory=list)
    hidden_paths: list[str] = Field(default_factory=list)
    bwrap: str = "bwrap"

    @field_validator("extra_ro_paths", "hidden_paths")
    @classmethod
    def _absolute(cls, value: list[str]) -> list[str]:
        paths = [os.path.expanduser(item) for item in value]
        for item in paths:
            if not os.path.isabs(item):
                raise ValueError(f"`{item}` is not an absolute path; give the full path (or start it with ~)")
        return paths


class GatewayConfig(_Strict):
    """`[gateway]`: the model gateway CLI agents reach their providers through (only on this machine)."""

    host: str = "127.0.0.1"
    connect_timeout_s: float = Field(30.0, gt=0)
    read_timeout_s: float = Field(600.0, gt=0)  # between two chunks of a reply
    backoff_first_s: float = Field(1.0, ge=0)  # after a 429 without `retry-after`; doubles, up to max
    backoff_max_s: float = Field(60.0, ge=0)

    @field_validator("host")
    @classmethod
    def _loopback(cls, value: str) -> str:
        if value != "localhost" and not value.startswith("127.") and value != "::1":
            raise ValueError(
                f"`{value}` is not a loopback address; use 127.0.0.1 (the gateway is local only)"
            )
        return value


class ProviderConfig(_Strict):
    base_url: str | None = None
    api_key_env: str | None = None
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(2, ge=0)


class PriceConfig(_Strict):
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cache_read_per_mtok: float | None = Field(None, ge=0)  # None: the input price
    cache_write_per_mtok: float | None = Field(None, ge=0)  # None: the input price


CacheTTLName = Literal["5m", "1h", "off"]


class GenerationConfig(_Strict):
    """`[generation.ROLE]` (or `[generation.default]`): how a role's replies are generated and cached."""

    max_output_tokens: int = Field(32_000, ge=256)
    retry_max_output_tokens: int = Field(64_000, ge=256)  # one retry of a cut reply; <= the above: none
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    thinking_budget_tokens: int = Field(0, ge=0)  # Anthropic extended thinking; 0 is off
    cache_ttl: CacheTTLName = "5m"  # Anthropic: the conversation's cache breakpoints
    prefix_cache_ttl: CacheTTLName | None = None  # Anthropic: tools + system; None: `cache_ttl`
    cache_retention: Literal["in_memory", "24h"] | None = None  # OpenAI; None: the account default

    @model_validator(mode="after")
    def _thinking_fits(self) -> GenerationConfig:
        budget = self.thinking_budget_tokens
        if budget and not 1024 <= budget < self.max_output_tokens:
            raise ValueError(
                f"`thinking_budget_tokens` = {budget} must be 0 (off) or at least 1024 and below "
                f"`max_output_tokens` ({self.max_output_tokens})"
            )
        if self.cache_ttl == "1h" and self.prefix_cache_ttl == "5m":
            raise ValueError("`prefix_cache_ttl` may not be shorter than `cache_ttl`; set both to 1h")
        return self


# Planners sleep between wakes: their tools and system prompt stay cached for an hour.
_ROLE_GENERATION: dict[str, dict[str, Any]] = {
    Role.PLANNER.value: {"prefix_cache_ttl": "1h"},
    Role.SUBPLANNER.value: {"prefix_cache_ttl": "1h"},
}


def _generation_tables(value: Any) -> Any:
    """Every role's table with `[generation.default]` (then the role's built-in defaults) under it."""
    if not isinstance(value, dict):
        return value
    for key in value:
        if key != "default" and key not in Role.__members__.values():
            raise ValueError(f"unknown role `{key}`; expected default or one of {ROLE_NAMES}")
    default = value.get("default") or {}
    if not isinstance(default, dict):
        return value
    out: dict[str, Any] = {"default": default}
    for role in Role:
        own = value.get(role.value, {})
        if not isinstance(own, dict):
            return value
        out[role.value] = {**_ROLE_GENERATION.get(role.value, {}), **default, **own}
    return out


GenerationTables = Annotated[dict[str, GenerationConfig], BeforeValidator(_generation_tables)]


class SimConfig(_Strict):
    """The `sim` model's workload: programmed roles, no LLM (see `shipyard.models.sim`)."""

    tasks: int = Field(24, ge=1, le=100_000)
    think_ms: float = Field(200.0, ge=0)  # mean simulated think time of a worker per task
    think_jitter: float = Field(0.5, ge=0, le=1)  # think time is uniform in mean x (1 +/- jitter)
    hot_share: float = Field(0.1, ge=0, le=1)  # share of tasks that also append to a shared hot file
    hot_files: int = Field(2, ge=1)
    seed: int = 0
    folder: str = Field("sim", min_length=1)  # where the simulated work writes its files
    area_size: int = Field(25, ge=1, le=1000)  # task files per folder
    usd_per_mtok: float = Field(1.0, ge=0)  # simulated price, so budgets and cost reports run


class BackendConfig(_Strict):
    """An external coding-agent CLI that plays a role (for workers: a share of the slots)."""

    cli: str  # claude or codex (see `shipyard.backends`)
    model: str | None = None  # the model the CLI should use; None: the CLI's default
    share: float = Field(1.0, gt=0, le=1)  # workers only: the share of worker slots it takes
    binary: str | None = None  # path to the CLI; None: found on PATH
    base_url: str | None = None  # the API the CLI talks to; None: its vendor's default
    api_key_env: str | None = None  # where Shipyard reads the key; the CLI gets only that one key
    idle_timeout_s: float = Field(300.0, gt=0)  # no output for this long: stopped as hung


class ClusterConfig(_Strict):
    """`[cluster]`: where workers run: `local` (in this process) or `ray` (actors on a Ray cluster; the
    board, merger, planners and judge stay here). Ray is an extra: pip install 'shipyard[ray]'."""

    engine: Literal["local", "ray"] = "local"
    address: str = "auto"  # auto (RAY_ADDRESS or a `ray start` on this machine), local, HOST:PORT, ray://...
    node_ip: str = ""  # this machine's address as Ray sees it ("": Ray's choice)
    slot_resource: str = Field("worker_slot", min_length=1)  # the Ray resource counting worker slots
    node_dir: str = Field("/tmp/shipyard-node", min_length=1)  # each node's clones and worktrees
    poll_s: float = Field(1.0, gt=0)  # how often the head collects each busy worker's events

    @field_validator("engine")
    @classmethod
    def _ray_installed(cls, value: str) -> str:
        if value == "ray" and not ray_installed():
            raise ValueError(
                "Ray is not installed; run `pip install 'shipyard[ray]'` (or use engine = \"local\")"
            )
        return value


def ray_installed() -> bool:
    """Whether `ray` is installed (asked only when `[cluster] engine = "ray"`; not imported here)."""
    return importlib.util.find_spec("ray") is not None


def _backend_tables(value: Any) -> Any:
    """`[backends.worker]` (one table) or `[[backends.worker]]` (a list of them) per role."""
    if not isinstance(value, dict):
        return value
    for key in value:
        if key not in Role.__members__.values():
            raise ValueError(f"unknown role `{key}`; expected one of {ROLE_NAMES}")
    return {key: [item] if isinstance(item, dict) else item for key, item in value.items()}


def _backend_shares(value: dict[str, list[BackendConfig]]) -> dict[str, list[BackendConfig]]:
    for role, entries in value.items():
        if role != Role.WORKER.value and (len(entries) > 1 or entries[0].share != 1.0):
            raise ValueError(f"`{role}` takes one backend and no share (shares are for workers)")
        if sum(e.share for e in entries) > 1.0 + 1e-9:
            raise ValueError(f"the shares of `{role}` add up to more than 1")
    return value


BackendsTable = Annotated[
    dict[str, list[BackendConfig]], BeforeValidator(_backend_tables), AfterValidator(_backend_shares)
]


# Providers that read another provider's `[providers.NAME]` table (same vendor, same key).
_SHARED_TABLES = {"openai-responses": "openai"}


class ShipyardConfig(_Strict):
    goal: str = ""
    goal_file: str | None = None
    check: str = ""
    workers: int = Field(4, ge=1, le=1024)
    branch: str = "main"
    max_cycles: int = Field(5, ge=1)
    prompts_dir: str = ".shipyard-prompts"
    models: dict[str, str] = Field(default_factory=dict)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)  # type: ignore[arg-type]
    budget: BudgetConfig = Field(default_factory=BudgetConfig)  # type: ignore[arg-type]
    fleet: FleetConfig = Field(default_factory=FleetConfig)  # type: ignore[arg-type]
    attempts: AttemptsConfig = Field(default_factory=AttemptsConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)  # type: ignore[arg-type]
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)  # type: ignore[arg-type]
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    prices: dict[str, PriceConfig] = Field(default_factory=dict)
    sim: SimConfig = Field(default_factory=SimConfig)  # type: ignore[arg-type]
    retry: RetryConfig = Field(default_factory=RetryConfig)  # type: ignore[arg-type]
    chaos: ChaosConfig = Field(default_factory=ChaosConfig)  # type: ignore[arg-type]
    backends: BackendsTable = Field(default_factory=dict)
    generation: GenerationTables = Field(default_factory=dict, validate_default=True)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)  # type: ignore[arg-type]

    @field_validator("models")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key != "default" and key not in Role.__members__.values():
                raise ValueError(f"unknown role `{key}`; expected one of {ROLE_NAMES}")
        return value

    def provider_config(self, provider: str) -> ProviderConfig | None:
        """The `[providers.NAME]` table of a provider; `openai-responses` shares `[providers.openai]`."""
        own = self.providers.get(provider)
        return own if own is not None else self.providers.get(_SHARED_TABLES.get(provider, provider))

    def generation_for(self, role: Role) -> GenerationConfig:
        """The generation settings of a role (its table over `[generation.default]` over built-ins)."""
        return self.generation.get(role.value) or GenerationConfig.model_validate({})

    @model_validator(mode="after")
    def _workers_placeable(self) -> ShipyardConfig:
        if self.cluster.engine == "ray" and Role.WORKER.value in self.backends:
            raise ValueError(
                "worker backends (external CLIs) do not run on Ray nodes yet; "
                'remove [[backends.worker]] or use [cluster] engine = "local"'
            )
        return self

    def model_for(self, role: Role) -> str:
        """The model string for a role; sub-planners fall back to the planner's model."""
        if role.value in self.models:
            return self.models[role.value]
        if role is Role.SUBPLANNER and Role.PLANNER.value in self.models:
            return self.models[Role.PLANNER.value]
        if "default" in self.models:
            return self.models["default"]
        raise ConfigError(
            f"no model for role `{role.value}`: set `{role.value}` under [models] in {CONFIG_NAME} "
            f"or pass --model {role.value}=openai:gpt-5.2"
        )


@dataclass(frozen=True)
class Overrides:
    """Values given on the command line; they win over the file."""

    goal: str | None = None
    goal_file: Path | None = None
    workers: int | None = None
    max_cycles: int | None = None
    models: Sequence[str] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    engine: str | None = None  # `[cluster] engine`: where workers run


def load_config(repo_root: Path, overrides: Overrides | None = None) -> ShipyardConfig:
    """Read `shipyard.toml` (if present) under `repo_root`, apply overrides, validate once."""
    raw = _read_toml(repo_root / CONFIG_NAME)
    raw = _apply_overrides(raw, overrides or Overrides())
    return _validate(raw, repo_root)


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path.name}: not valid TOML ({exc}); fix the syntax or run `shipyard init`"
        ) from None


def _apply_overrides(raw: dict[str, Any], ov: Overrides) -> dict[str, Any]:
    out = dict(raw)
    if ov.goal is not None:
        out["goal"], out["goal_file"] = ov.goal, None
    if ov.goal_file is not None:
        out["goal_file"], out["goal"] = str(ov.goal_file), ""
    if ov.workers is not None:
        out["workers"] = ov.workers
    if ov.max_cycles is not None:
        out["max_cycles"] = ov.max_cycles
    models = dict(out.get("models", {}))
    for item in ov.models:
        role, sep, model = item.partition("=")
        if not sep:  # one model for every role, over what the file says
            models.update({r.value: item.strip() for r in Role})
            continue
        models[role.strip()] = model.strip()
    out["models"] = models
    if ov.engine is not None:
        out["cluster"] = {**out.get("cluster", {}), "engine": ov.engine}
    out.update(ov.extra)
    return out


def _validate(raw: dict[str, Any], repo_root: Path) -> ShipyardConfig:
    try:
        config = ShipyardConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    if config.goal_file:
        config = config.model_copy(update={"goal": _read_goal_file(repo_root, config.goal_file)})
    return config


def _read_goal_file(repo_root: Path, name: str) -> str:
    path = Path(name) if Path(name).is_absolute() else repo_root / name
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"goal_file `{name}`: cannot read it ({exc.__class__.__name__}); fix the path"
        ) from None


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key; remove it or check its spelling (see `shipyard init` for every key)"
    return f"{CONFIG_NAME}: `{loc}`: {msg}"


def config_from(
    raw: Mapping[str, Any], repo_root: Path, overrides: Overrides | None = None
) -> ShipyardConfig:
    """A configuration from stored settings (a run's own, see `fleet.settings`), with overrides, validated."""
    return _validate(_apply_overrides(dict(raw), overrides or Overrides()), repo_root)
