"""Helpers for backend tests: the real CLIs (when installed), fake CLI scripts, TOML strings."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Where `.ci/run` installs the CLIs from the npm registry.
NPM_BIN = Path(__file__).resolve().parents[2] / ".venv" / "npm" / "node_modules" / ".bin"
PACKAGES = {"claude": "@anthropic-ai/claude-code", "codex": "@openai/codex"}


def cli_binary(name: str) -> Path:
    """The real CLI, or a skip (a failure under CI, which installs them) when it is not installed."""
    for folder in (NPM_BIN, *(Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p)):
        if (folder / name).is_file():
            return folder / name
    why = (
        f"the `{name}` CLI is not installed (`bash .ci/run` installs {PACKAGES[name]} into {NPM_BIN.parent})"
    )
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


def fake_cli(path: Path, body: str) -> Path:
    """An executable Python script standing in for a CLI; `body` runs after a few common imports."""
    header = f"#!{sys.executable}\nimport json, os, subprocess, sys, time\nfrom pathlib import Path\n"
    path.write_text(header + body)
    path.chmod(0o755)
    return path


def toml_str(value: object) -> str:
    """A TOML basic string."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
