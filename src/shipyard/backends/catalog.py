"""The CLIs Shipyard can drive, and the start-up checks of a configured one (installed, key present)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shipyard.backends import claude, codex
from shipyard.backends.dialect import CliSettings, Dialect
from shipyard.config import BackendConfig, ShipyardConfig
from shipyard.domain import Role
from shipyard.errors import ConfigError, SetupError
from shipyard.models.pricing import Price


@dataclass(frozen=True)
class CliKind:
    """One supported CLI: its command, its npm package, the key it needs, and its dialect."""

    name: str
    command: str
    package: str
    key_env: str
    dialect: Callable[[], Dialect]


KINDS = {
    "claude": CliKind("claude", "claude", claude.PACKAGE, "ANTHROPIC_API_KEY", claude.ClaudeDialect),
    "codex": CliKind("codex", "codex", codex.PACKAGE, "OPENAI_API_KEY", codex.CodexDialect),
}


def kind_of(entry: BackendConfig, where: str) -> CliKind:
    kind = KINDS.get(entry.cli)
    if kind is None:
        raise ConfigError(
            f"shipyard.toml: `{where}.cli`: unknown CLI `{entry.cli}`; expected one of {', '.join(KINDS)}"
        )
    return kind


def resolve(entry: BackendConfig, where: str, config: ShipyardConfig, env: Mapping[str, str]) -> CliSettings:
    """Check one configured CLI and gather what running it needs; `ConfigError` names the fix."""
    kind = kind_of(entry, where)
    binary = find_binary(kind, entry, env)
    if binary is None:
        raise SetupError(
            f"the `{kind.command}` CLI for {where} is not installed; install it with "
            f"`npm install -g {kind.package}` (or set `binary` under [{where}])"
        )
    key_env = entry.api_key_env or kind.key_env
    key = env.get(key_env, "")
    if not key:
        raise ConfigError(f"{where} runs `{kind.command}`, which needs an API key: set {key_env}")
    price = config.prices.get(f"{kind.dialect().provider}:{entry.model}") if entry.model else None
    return CliSettings(
        cli=kind.name,
        binary=binary,
        model=entry.model,
        api_key_env=kind.key_env,
        api_key=key,
        base_url=entry.base_url,
        idle_timeout_s=entry.idle_timeout_s,
        share=entry.share,
        price=None if price is None else Price(**price.model_dump()),
    )


def find_binary(kind: CliKind, entry: BackendConfig, env: Mapping[str, str]) -> Path | None:
    """The CLI's executable: `binary` if set, else found on the environment's PATH; None if neither."""
    if entry.binary:
        path = Path(entry.binary).expanduser()
        return path if path.is_file() and os.access(path, os.X_OK) else None
    found = shutil.which(kind.command, path=env.get("PATH", os.defpath))
    return Path(found) if found else None


def configured(config: ShipyardConfig) -> dict[Role, list[BackendConfig]]:
    """The configured backends by role; sub-planners use the planner's unless they have their own."""
    table = {Role(role): entries for role, entries in config.backends.items()}
    if Role.SUBPLANNER not in table and Role.PLANNER in table:
        table[Role.SUBPLANNER] = table[Role.PLANNER]
    return table


def here(config: ShipyardConfig) -> dict[Role, list[BackendConfig]]:
    """The configured backends this process runs: all, less the workers' on a Ray cluster (each node
    checks and runs those itself, see `on_nodes`)."""
    table = configured(config)
    if config.cluster.engine == "ray":
        table.pop(Role.WORKER, None)
    return table


def on_nodes(config: ShipyardConfig) -> dict[Role, list[BackendConfig]]:
    """The configured backends a Ray node runs: the workers' (empty when workers use the built-in loop)."""
    entries = configured(config).get(Role.WORKER, [])
    return {Role.WORKER: entries} if entries else {}


def covered_roles(config: ShipyardConfig) -> set[Role]:
    """Roles played wholly by CLIs, which therefore need no `[models]` entry."""
    return {
        role for role, entries in configured(config).items() if sum(e.share for e in entries) >= 1.0 - 1e-9
    }


def check_backends(
    config: ShipyardConfig,
    env: Mapping[str, str],
    table: Mapping[Role, list[BackendConfig]] | None = None,
) -> dict[Role, list[CliSettings]]:
    """Resolve the CLIs of `table` (default: those this process runs, `here`) before anything is
    written; the first problem raises `ConfigError`."""
    resolved: dict[Role, list[CliSettings]] = {}
    for role, entries in (here(config) if table is None else table).items():
        source = Role.PLANNER if role is Role.SUBPLANNER and role.value not in config.backends else role
        resolved[role] = [resolve(entry, f"backends.{source.value}", config, env) for entry in entries]
    return resolved
