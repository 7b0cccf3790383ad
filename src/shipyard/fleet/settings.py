"""A run's own settings: the effective configuration it runs with (after the command line's flags), kept
on its board, so that `resume` continues the run as it was started rather than as `shipyard.toml` says
now. Flags given to `resume` still win, and become the run's settings from then on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shipyard.board.base import Board
from shipyard.config import CONFIG_NAME, Overrides, ShipyardConfig, config_from, load_config
from shipyard.errors import ConfigError

CONFIG_META = "run_config"
_SHOWN = 8  # differences listed by name; the rest are counted


def save(board: Board, config: ShipyardConfig) -> None:
    """Keep `config` with the run; its goal is kept as text (a goal file may change while it runs)."""
    data = config.model_dump(mode="json")
    data["goal_file"] = None
    board.set_meta(CONFIG_META, json.dumps(data, sort_keys=True))


def resumed(board: Board, repo_root: Path, overrides: Overrides) -> tuple[ShipyardConfig, list[str]]:
    """The configuration to resume the run with, and lines that say where it comes from."""
    stored = board.get_meta(CONFIG_META)
    if stored is None:
        note = f"this run kept no settings of its own (it began before they were kept); using {CONFIG_NAME}"
        return load_config(repo_root, overrides), [note]
    try:
        config = config_from(json.loads(stored), repo_root, overrides)
    except ConfigError as exc:
        raise ConfigError(
            f"the run's own settings no longer validate ({exc}); start over with `shipyard run --new`"
        ) from None
    head = f"resuming with the run's own settings{_flags(overrides)}"
    return config, [head, *_differences(config, repo_root)]


def _flags(overrides: Overrides) -> str:
    names = ("goal", "goal_file", "workers", "max_cycles", "engine", "address")
    given = [name for name in names if getattr(overrides, name)]
    given += ["model"] if overrides.models else []
    given += list(overrides.extra)
    return f" (and --{', --'.join(given).replace('_', '-')} as given now)" if given else ""


def _differences(config: ShipyardConfig, repo_root: Path) -> list[str]:
    """Where the run's settings differ from what `shipyard.toml` says now."""
    try:
        file = load_config(repo_root)
    except ConfigError as exc:
        return [f"{CONFIG_NAME} is not used ({exc})"]
    ours, theirs = _flat(config.model_dump(mode="json")), _flat(file.model_dump(mode="json"))
    ours.pop("goal_file", None)
    theirs.pop("goal_file", None)
    keys = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
    if not keys:
        return [f"same as {CONFIG_NAME}"]
    lines = [f"differs from {CONFIG_NAME} in {len(keys)} setting(s):"]
    for key in keys[:_SHOWN]:
        lines.append(f"  {key} = {_show(ours.get(key))} ({CONFIG_NAME}: {_show(theirs.get(key))})")
    if len(keys) > _SHOWN:
        lines.append(f"  ... and {len(keys) - _SHOWN} more")
    return lines


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flat(value, name + "."))
        else:
            out[name] = value
    return out


def _show(value: Any) -> str:
    text = "(not set)" if value is None else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
