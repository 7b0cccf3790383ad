"""Configuration of CLI backends: the table per role, shares of worker slots, start-up checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from backend_fakes import claude_like

from shipyard.backends import BackendPicker, IsolationGuard, check_backends, covered_roles
from shipyard.backends.picker import slot_counts
from shipyard.config import ShipyardConfig, load_config
from shipyard.domain import Role
from shipyard.errors import ConfigError


@pytest.mark.parametrize(
    ("shares", "slots", "counts"),
    [([1.0], 4, [4]), ([0.7], 10, [7]), ([0.7], 4, [3]), ([0.5, 0.5], 3, [2, 1]), ([0.3, 0.3], 1, [1, 0])],
)
def test_slot_counts_follow_the_shares(shares: list[float], slots: int, counts: list[int]) -> None:
    assert slot_counts(shares, slots) == counts
    assert sum(counts) <= slots


def _config(backends: dict[str, object], workers: int = 4) -> ShipyardConfig:
    return ShipyardConfig.model_validate({"goal": "g", "workers": workers, "backends": backends})


def test_a_mixed_fleet_gets_its_backends_by_role_and_slot(tmp_path: Path) -> None:
    cli = str(claude_like(tmp_path / "claude"))
    config = _config(
        {
            "planner": {"cli": "claude", "binary": cli},
            "worker": [
                {"cli": "codex", "binary": cli, "share": 0.5},
                {"cli": "claude", "binary": cli, "share": 0.25},
            ],
        }
    )
    settings = check_backends(config, {"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"})
    picker = BackendPicker(settings, 4, IsolationGuard(tmp_path, "main", tmp_path / ".shipyard"), {})
    assert picker.describe() == {
        "planner": "claude:default",
        "subplanner": "claude:default",  # sub-planners follow the planner
        "worker-1": "codex:default",
        "worker-2": "codex:default",
        "worker-3": "claude:default",
    }
    assert picker(Role.WORKER, "worker-4") is None  # the rest run the built-in loop
    assert picker(Role.JUDGE, "judge") is None
    assert covered_roles(config) == {Role.PLANNER, Role.SUBPLANNER}
    upstreams = sorted((u.provider, u.api_key) for u in picker.gateway.upstreams.values())
    assert upstreams == [("anthropic", "a"), ("openai", "o")]  # one route per provider and key


@pytest.mark.parametrize(
    ("backends", "message"),
    [
        ({"workr": {"cli": "codex"}}, "unknown role `workr`"),
        ({"judge": {"cli": "codex", "share": 0.5}}, "`judge` takes one backend and no share"),
        (
            {"worker": [{"cli": "codex", "share": 0.6}, {"cli": "claude", "share": 0.6}]},
            "add up to more than 1",
        ),
        ({"worker": {"cli": "codex", "modle": "x"}}, "unknown key"),
    ],
)
def test_bad_tables_are_refused_in_one_line(
    tmp_path: Path, backends: dict[str, object], message: str
) -> None:
    lines = ["[backends]"] if "workr" in backends else []
    toml = "\n".join([*lines, *_toml(backends)])
    (tmp_path / "shipyard.toml").write_text(toml + "\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_config(tmp_path)
    assert "\n" not in str(info.value)


def _toml(backends: dict[str, object]) -> list[str]:
    out: list[str] = []
    for role, value in backends.items():
        for entry in value if isinstance(value, list) else [value]:
            out.append(f"[[backends.{role}]]")
            out += [f"{k} = {v!r}".replace("'", '"') for k, v in entry.items()]
    return out


def test_an_unknown_cli_is_named_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown CLI `aider`; expected one of claude, codex"):
        check_backends(_config({"worker": {"cli": "aider"}}), {})


def test_a_missing_cli_names_the_package_to_install(tmp_path: Path) -> None:
    config = _config({"worker": {"cli": "codex"}})
    with pytest.raises(ConfigError, match=r"`npm install -g @openai/codex`"):
        check_backends(config, {"PATH": str(tmp_path), "OPENAI_API_KEY": "k"})


def test_each_cli_gets_only_its_own_key(tmp_path: Path) -> None:
    cli = str(claude_like(tmp_path / "claude"))
    config = _config({"worker": {"cli": "codex", "binary": cli, "api_key_env": "TEAM_OPENAI"}})
    settings = check_backends(config, {"TEAM_OPENAI": "o", "ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "x"})
    (codex,) = settings[Role.WORKER]
    assert (codex.api_key_env, codex.api_key) == ("OPENAI_API_KEY", "o")  # read from TEAM_OPENAI
