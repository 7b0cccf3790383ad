"""`[gateway]` in shipyard.toml: its settings reach the gateway; a non-loopback address is refused."""

from __future__ import annotations

from pathlib import Path

from backend_fakes import claude_like

from cli_helpers import invoke, make_repo
from shipyard.backends.catalog import check_backends
from shipyard.backends.isolation import IsolationGuard
from shipyard.backends.picker import BackendPicker
from shipyard.config import ShipyardConfig


def test_a_gateway_on_a_public_address_is_refused_in_one_line(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "target")
    (repo / "shipyard.toml").write_text('goal = "g"\n[gateway]\nhost = "0.0.0.0"\n')
    result = invoke("run", str(repo))
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "`0.0.0.0` is not a loopback address; use 127.0.0.1" in line
    assert not (repo / ".shipyard").exists()


def test_the_gateway_settings_come_from_the_project(tmp_path: Path) -> None:
    cli = str(claude_like(tmp_path / "claude"))
    config = ShipyardConfig.model_validate(
        {
            "goal": "g",
            "backends": {"worker": {"cli": "claude", "binary": cli}},
            "gateway": {"read_timeout_s": 42, "backoff_first_s": 0.5, "backoff_max_s": 8},
        }
    )
    settings = check_backends(config, {"ANTHROPIC_API_KEY": "k"})
    guard = IsolationGuard(tmp_path, "main", tmp_path / ".shipyard")
    gateway = BackendPicker(settings, 1, guard, {}, None, config).gateway
    assert gateway.settings.read_timeout_s == 42 and gateway.settings.host == "127.0.0.1"
    assert (gateway.backoff.first_s, gateway.backoff.max_s) == (0.5, 8)
