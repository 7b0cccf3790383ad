"""`shipyard.toml` plus CLI overrides, validated once into a typed `ShipyardConfig`."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from shipyard.domain import Role
from shipyard.errors import ConfigError
from shipyard.sections import (
    ATTEMPT_ENDINGS,
    ROLE_NAMES,
    AttemptsConfig,
    BackendConfig,
    BackendsTable,
    BudgetConfig,
    CacheTTLName,
    ChaosConfig,
    ClusterConfig,
    FleetConfig,
    GatewayConfig,
    GenerationConfig,
    GenerationTables,
    LimitsConfig,
    PriceConfig,
    ProviderConfig,
    RetryConfig,
    SandboxConfig,
    SimConfig,
    _Strict,
    ray_installed,
)

__all__ = [  # the tables live in `shipyard.sections`; this module is where the rest finds them
    "ATTEMPT_ENDINGS",
    "CONFIG_NAME",
    "ROLE_NAMES",
    "AttemptsConfig",
    "BackendConfig",
    "BudgetConfig",
    "CacheTTLName",
    "ChaosConfig",
    "ClusterConfig",
    "FleetConfig",
    "GatewayConfig",
    "GenerationConfig",
    "LimitsConfig",
    "Overrides",
    "PriceConfig",
    "ProviderConfig",
    "RetryConfig",
    "SandboxConfig",
    "ShipyardConfig",
    "SimConfig",
    "config_from",
    "load_config",
    "ray_installed",
]

CONFIG_NAME = "shipyard.toml"


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
    address: str | None = None  # `[cluster] address`: the Ray cluster to join


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
    cluster = {"engine": ov.engine, "address": ov.address}
    if given := {key: value for key, value in cluster.items() if value is not None}:
        out["cluster"] = {**out.get("cluster", {}), **given}
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
