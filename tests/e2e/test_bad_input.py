"""Bad input: one line naming the problem and the fix, exit code 2, nothing written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cli_helpers import invoke, snapshot
from shipyard.config import load_config
from shipyard.git.included import configs_inside


def _assert_refused(result: object, root: Path, before: dict[str, bytes], needle: str) -> list[str]:
    """Exit 2, one line per problem with the first naming `needle`, and nothing written."""
    assert result.exit_code == 2, result.stdout  # type: ignore[attr-defined]
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert lines and all(line.startswith("shipyard: error: ") for line in lines), lines
    assert needle in lines[0], lines
    assert snapshot(root) == before
    return lines


def test_not_a_git_repository(tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    _assert_refused(invoke("run", str(tmp_path), "--goal", "x"), tmp_path, before, "not a git repository")


def test_repository_without_commits(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    before = snapshot(tmp_path)
    _assert_refused(invoke("run", str(tmp_path), "--goal", "x"), tmp_path, before, "no commits")


OTHERS = "planner = 'scripted:demo'\njudge = 'scripted:demo'\n"


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("workers = 'many'\n", "`workers`"),
        ("goal = 'x'\n[limits]\nmax_stepz = 3\n", "`limits.max_stepz`: unknown key"),
        ("goal = 'x'\nworkers = \n", "not valid TOML"),
        ("goal = 'x'\n[models]\nplannr = 'openai:gpt-5.2'\n", "unknown role `plannr`"),
        ("goal = 'x'\n[models]\nworker = 'gpt5'\n" + OTHERS, "unknown model string `gpt5`"),
        ("goal = 'x'\n[models]\nworker = 'openai:gpt-5.2'\n" + OTHERS, "OPENAI_API_KEY is not set"),
        (
            "goal = 'x'\n[models]\nworker = 'anthropic:claude-opus-4-5'\n" + OTHERS,
            "ANTHROPIC_API_KEY is not set",
        ),
    ],
)
def test_invalid_config(repo: Path, toml: str, needle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    (repo / "shipyard.toml").write_text(toml)
    before = snapshot(repo)
    _assert_refused(invoke("run", str(repo)), repo, before, needle)


def test_unknown_role_on_the_command_line(repo: Path) -> None:
    before = snapshot(repo)
    result = invoke("run", str(repo), "--goal", "x", "--model", "plannr=scripted:demo")
    _assert_refused(result, repo, before, "unknown role `plannr`")


def test_missing_goal(repo: Path) -> None:
    before = snapshot(repo)
    _assert_refused(invoke("run", str(repo), "--model", "scripted:demo"), repo, before, "no goal")


def test_status_without_a_run(repo: Path) -> None:
    before = snapshot(repo)
    _assert_refused(invoke("status", str(repo)), repo, before, "no Shipyard run")


def test_demo_refuses_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    before = snapshot(tmp_path)
    _assert_refused(invoke("demo", "--dir", str(tmp_path)), tmp_path, before, "not an empty folder")


def test_init_writes_a_config_once(repo: Path) -> None:
    first = invoke("init", str(repo), "--goal", "build it", "--check", "pytest -q")
    assert first.exit_code == 0
    text = (repo / "shipyard.toml").read_text()
    assert 'goal = "build it"' in text and 'check = "pytest -q"' in text
    config = load_config(repo)  # every key the template writes is valid
    assert (
        config.goal == "build it" and config.sandbox.enabled and config.models["worker"] == "openai:gpt-5.2"
    )
    before = snapshot(repo)
    _assert_refused(invoke("init", str(repo)), repo, before, "already exists")


NO_BWRAP = "[sandbox]\nbwrap = '/nonexistent/bwrap'\n"


def test_a_bad_model_string_is_named_before_a_missing_bubblewrap(repo: Path) -> None:
    (repo / "shipyard.toml").write_text("goal = 'x'\n" + NO_BWRAP + "[models]\n" + OTHERS)
    before = snapshot(repo)
    result = invoke("run", str(repo), "--model", "worker=nosuch:thing")
    lines = _assert_refused(result, repo, before, "unknown model string `nosuch:thing`")
    assert len(lines) == 2 and "bubblewrap is not installed" in lines[1], lines


def test_every_missing_key_and_the_sandbox_are_reported_at_once(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    models = "[models]\nworker = 'openai:gpt-5.2'\nplanner = 'anthropic:claude-opus-4-5'\njudge = 'sim'\n"
    (repo / "shipyard.toml").write_text("goal = 'x'\n" + NO_BWRAP + models)
    before = snapshot(repo)
    lines = _assert_refused(invoke("run", str(repo)), repo, before, "is not set")
    assert [line.split(": ")[2].split()[0] for line in lines[:2]] == ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"]
    assert len(lines) == 3 and "sandbox: bubblewrap is not installed" in lines[2], lines


def test_a_config_file_git_includes_from_the_work_tree(repo: Path, tmp_path: Path) -> None:
    """A team's tracked `.gitconfig`, included by the person's config: a worker's merged commit could
    add a filter driver there, which Shipyard's own git would run on the host."""
    (repo / "team.gitconfig").write_text("[core]\n\tautocrlf = false\n")
    subprocess.run(["git", "-C", str(repo), "add", "team.gitconfig"], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "team config"], check=True)
    subprocess.run(["git", "-C", str(repo), "config", "include.path", "../team.gitconfig"], check=True)
    (repo / "shipyard.toml").write_text("goal = 'x'\n[models]\ndefault = 'sim'\n")
    before = snapshot(repo)
    lines = _assert_refused(invoke("run", str(repo)), repo, before, "includes team.gitconfig, a file inside")
    assert len(lines) == 1, "the only problem"

    outside = tmp_path / "outside.gitconfig"  # the fix the line names: the file outside the repository
    outside.write_text("[core]\n\tautocrlf = false\n")
    subprocess.run(["git", "-C", str(repo), "config", "include.path", str(outside)], check=True)
    assert configs_inside(repo, repo / ".git") == []
