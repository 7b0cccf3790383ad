"""The tables of `shipyard.toml`, one typed class each; `shipyard.config` puts them together."""

from __future__ import annotations

import importlib.util
import os
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from shipyard.domain import Role

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
    slots_per_actor: int = Field(16, ge=1, le=64)  # worker slots that share one Ray actor process
    poll_s: float = Field(1.0, gt=0)  # how often the head collects each busy worker's events
    head_lost_s: float = Field(10.0, gt=0, le=50)  # the Ray head silent this long: the run stops

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
