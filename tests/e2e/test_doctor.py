"""`shipyard doctor`: what a run needs, the fix for what is missing; exit 0 only when a run can start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_helpers import invoke, make_demo_repo
from fake_llm import FakeLLMServer, FakeReply

SECRET = "sk-test-do-not-print-4242"
WIDE = {"COLUMNS": "250"}


def _row(stdout: str, check: str) -> str:
    """The table row of one check (its first cell)."""
    return next(line for line in stdout.splitlines() if line.startswith(f"│ {check} "))


def test_all_is_well_in_the_demo_project(tmp_path: Path) -> None:
    root = make_demo_repo(tmp_path / "demo")
    result = invoke("doctor", str(root), env=WIDE)
    assert result.exit_code == 0, result.stdout
    assert "all is well" in result.stdout and "missing" not in result.stdout


def test_a_missing_bubblewrap_is_named_with_its_install_line(tmp_path: Path) -> None:
    root = make_demo_repo(tmp_path / "demo", tables={"sandbox": {"bwrap": "/nonexistent/bwrap"}})
    result = invoke("doctor", str(root), env=WIDE)
    assert result.exit_code == 1, result.stdout
    row = _row(result.stdout, "bubblewrap")
    assert "missing" in row and "apt-get install bubblewrap" in row


def test_an_allowed_unsandboxed_run_is_only_a_warning(tmp_path: Path) -> None:
    tables = {"sandbox": {"bwrap": "/nonexistent/bwrap", "allow_unsandboxed": True}}
    root = make_demo_repo(tmp_path / "demo", tables=tables)
    result = invoke("doctor", str(root), env=WIDE)
    assert result.exit_code == 0, result.stdout
    assert "warning" in _row(result.stdout, "bubblewrap")


def test_keys_are_named_never_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    models = {"worker": "openai:gpt-5.2", "planner": "anthropic:claude-opus-4-5"}
    root = make_demo_repo(tmp_path / "demo", tables={"models": models})
    result = invoke("doctor", str(root), env=WIDE)
    assert result.exit_code == 1
    assert SECRET not in result.stdout + result.stderr
    assert "OPENAI_API_KEY is set" in result.stdout
    assert "ANTHROPIC_API_KEY is not set" in result.stdout


def test_outside_a_repository_it_says_what_to_do(tmp_path: Path) -> None:
    result = invoke("doctor", str(tmp_path), env=WIDE)
    assert result.exit_code == 1
    assert "not a git repository" in result.stdout and "git init" in result.stdout


def test_online_sends_one_tiny_request_per_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeLLMServer(lambda api, body: FakeReply(text="ok")) as server:
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        tables = {
            "models": {"worker": "openai:gpt-5.2"},
            "providers": {"openai": {"base_url": server.openai_base_url}},
        }
        root = make_demo_repo(tmp_path / "demo", tables=tables)
        result = invoke("doctor", str(root), "--online", env=WIDE)
        assert result.exit_code == 0, result.stdout
        assert len(server.requests) == 1
        assert "answered" in _row(result.stdout, "online openai:gpt-5.2")


def test_a_cli_backend_shows_its_path_and_a_check_that_does_not_resolve(tmp_path: Path) -> None:
    fake = tmp_path / "claude"
    fake.write_text("#!/bin/sh\necho '9.9.9 (Claude Code)'\n")
    fake.chmod(0o755)
    backends = {"worker": [{"cli": "claude", "binary": str(fake)}]}
    root = make_demo_repo(tmp_path / "demo", tables={"backends": backends})
    (root / "shipyard.toml").write_text(
        (root / "shipyard.toml").read_text().replace("check = ", 'check = "nosuchprog -q" #')
    )
    result = invoke("doctor", str(root), "--json", env={"ANTHROPIC_API_KEY": "k"})
    rows = {row["check"]: row for row in json.loads(result.stdout)["rows"]}
    assert "9.9.9 (Claude Code)" in rows["cli claude"]["seen"]
    env_row = rows["backends.worker env"]
    assert env_row["status"] == "warning" and "PATH=" in env_row["seen"]
    assert "`nosuchprog` is not on its PATH" in env_row["seen"]
