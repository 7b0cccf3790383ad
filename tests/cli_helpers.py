"""Helpers for CLI tests: real git repositories and the CLI run in-process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from shipyard.cli import app

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Tester",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "Tester",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(repo: Path, *args: str) -> str:
    import os

    env = {**os.environ, **GIT_ENV}
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def make_repo(root: Path) -> Path:
    """A git repository on `main` with one commit."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("# target\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return root


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run the CLI in-process and return click's Result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def write_script(path: Path, turns: dict[str, list[dict[str, Any]]]) -> Path:
    """Recorded turns for the scripted model, as JSON."""
    path.write_text(json.dumps(turns))
    return path


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root (including .git), to prove a command changed nothing."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
