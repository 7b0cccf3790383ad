"""Prompt templates: every role renders, overrides replace the packaged file, unknown variables stay."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

import pytest

from shipyard.agent import render_prompt
from shipyard.agent.prompts import SEPARATOR
from shipyard.domain import Role
from shipyard.errors import ConfigError

PLANNER_VARS = {"goal", "notes", "board", "handoffs", "steering", "check_command", "max_tasks", "verdict"}
VARIABLES = {
    Role.PLANNER: PLANNER_VARS,
    Role.SUBPLANNER: PLANNER_VARS | {"scope"},
    Role.WORKER: {
        "title",
        "description",
        "acceptance",
        "scope",
        "check_command",
        "notes",
        "conflict",
        "notes_budget",
    },
    Role.JUDGE: {"goal", "board", "check_result", "check_command", "handoffs", "notes"},
}


@pytest.mark.parametrize("role", list(Role))
def test_templates_use_only_the_documented_variables(role: Role) -> None:
    text = resources.files("shipyard.prompts").joinpath(f"{role.value}.md").read_text(encoding="utf-8")
    used = {m.group("named") or m.group("braced") for m in Template.pattern.finditer(text)} - {None}
    assert used == VARIABLES[role]
    assert text.count(SEPARATOR) == 1


@pytest.mark.parametrize("role", list(Role))
def test_every_role_renders_fully(role: Role) -> None:
    values = {name: f"<{name}>" for name in VARIABLES[role]}
    system, user = render_prompt(role, values, None)
    assert system and user and "$" not in system + user and SEPARATOR not in system + user
    assert all(f"<{name}>" in system + user for name in VARIABLES[role])


def test_worker_prompt_content() -> None:
    values = {"title": "Add a parser", "check_command": "pytest -q", "conflict": "", "notes": ""}
    system, user = render_prompt(Role.WORKER, values, None)
    assert "No TODOs" in system and "`pytest -q`" in system
    assert user.startswith("# Task: Add a parser")
    assert "# Notes\n(none)" in user and "\n\n\n" not in user


def test_planner_prompt_gives_scope_in_numbers() -> None:
    system, user = render_prompt(Role.PLANNER, {"max_tasks": "30", "goal": "Port to Rust"}, None)
    assert "Write 3-30 tasks" in system and "never write" in system
    assert user.startswith("# Goal\nPort to Rust")


def test_override_dir_replaces_the_packaged_template(tmp_path: Path) -> None:
    (tmp_path / "judge.md").write_text("Judge $goal strictly.\n---user---\nCheck: $check_result $unknown\n")
    system, user = render_prompt(Role.JUDGE, {"goal": "G", "check_result": "ok"}, tmp_path)
    assert (system, user) == ("Judge G strictly.", "Check: ok $unknown")
    packaged, _ = render_prompt(Role.WORKER, {}, tmp_path)
    assert packaged.startswith("You are a worker")


def test_override_without_separator_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "worker.md").write_text("Just one part $title\n")
    with pytest.raises(ConfigError, match=re.escape("no `---user---` line")):
        render_prompt(Role.WORKER, {}, tmp_path)
