"""The facts `shipyard doctor` reports about CLI backends: their commands' PATH and Python, and a
warning when the check does not resolve there."""

from __future__ import annotations

import sys
from pathlib import Path

from backend_fakes import claude_like

from shipyard.backends.doctor import command_environments, resolve
from shipyard.config import ShipyardConfig

VENV_BIN = str(Path(sys.executable).parent)


def _config(tmp_path: Path, check: str) -> ShipyardConfig:
    cli = str(claude_like(tmp_path / "claude"))
    return ShipyardConfig.model_validate(
        {
            "goal": "g",
            "check": check,
            "backends": {
                "planner": {"cli": "claude", "binary": cli},
                "worker": {"cli": "codex", "binary": cli},
            },
        }
    )


def test_each_cli_backend_reports_the_path_and_python_of_its_commands(tmp_path: Path) -> None:
    facts = command_environments(_config(tmp_path, "python3 -m pytest -q"), {"PATH": "/usr/bin:/bin"})
    assert [(f.where, f.cli) for f in facts] == [("backends.planner", "claude"), ("backends.worker", "codex")]
    for fact in facts:
        assert fact.path.split(":")[0] == VENV_BIN  # the virtualenv Shipyard runs from comes first
        assert fact.python == f"{VENV_BIN}/python3"
        assert fact.check_program == f"{VENV_BIN}/python3" and fact.warning is None


def test_a_check_that_does_not_resolve_is_warned_about(tmp_path: Path) -> None:
    (fact, _) = command_environments(_config(tmp_path, "tox -q"), {"PATH": str(tmp_path)})
    assert fact.check_program is None
    assert fact.warning is not None and "`tox` is not on its PATH" in fact.warning
    assert resolve("cd sub && make", "/nowhere") == "cd"
    assert resolve("CI=1 python3 -V", f"{VENV_BIN}") == f"{VENV_BIN}/python3"
