"""What a command sees in the sandbox: the mount plan for a linked worktree, and how it behaves when run
(git works read-only, /tmp is private, the network is off unless allowed, extra paths can be shown)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from cli_helpers import git, make_repo
from shipyard.agent.mount import Kind, View, git_layout, plan
from shipyard.agent.sandbox import Sandbox, SandboxPolicy
from shipyard.agent.shell import CommandResult, run_command
from shipyard.config import ShipyardConfig


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo")
    (repo / ".shipyard").mkdir()
    path = repo / ".shipyard" / "worktrees" / "w1"
    git(repo, "worktree", "add", "-q", "-b", "shipyard/w1", str(path))
    return path


def sh(command: str, cwd: Path, **policy: object) -> CommandResult:
    return asyncio.run(run_command(command, cwd, 10.0, Sandbox(SandboxPolicy(**policy))))


def test_the_layout_of_a_linked_worktree(worktree: Path) -> None:
    layout = git_layout(worktree)
    repo = worktree.parents[2]
    assert layout.dot_git == worktree / ".git"
    assert layout.admin == repo / ".git" / "worktrees" / "w1"
    assert layout.common == repo / ".git" and layout.checkout == repo


def test_the_plan_hides_checkout_and_state_and_keeps_git_read_only(worktree: Path, tmp_path: Path) -> None:
    repo, home = worktree.parents[2], tmp_path / "home"
    home.mkdir()
    rules = dict(plan(git_layout(worktree), View(home=home, exposed=[repo / ".shipyard" / "worktrees"])))
    admin = repo / ".git" / "worktrees" / "w1"
    assert rules[repo] is Kind.EMPTY and rules[repo / ".shipyard"] is Kind.EMPTY
    assert rules[home] is Kind.SCRATCH and rules[Path("/tmp")] is Kind.SCRATCH
    assert rules[repo / ".git"] is Kind.READ and rules[repo / ".git" / "hooks"] is Kind.EMPTY
    assert rules[repo / ".git" / "worktrees"] is Kind.EMPTY and rules[admin] is Kind.READ
    assert not any(path.is_relative_to(admin) and kind is Kind.WRITE for path, kind in rules.items())
    assert rules[worktree] is Kind.WRITE and rules[worktree / ".git"] is Kind.READ
    assert repo / ".shipyard" / "worktrees" not in rules  # never shown again, whatever is asked
    order = [path for path, _ in plan(git_layout(worktree), View(home=home))]
    assert order.index(repo) < order.index(repo / ".git") < order.index(repo / ".git" / "worktrees")
    assert order.index(repo / ".git" / "worktrees") < order.index(admin)


def test_git_reads_but_cannot_write_the_shared_history(worktree: Path) -> None:
    result = sh(
        "echo new > new.txt && git status --short && git log --format=%s && git commit -qam x", worktree
    )
    assert result.output.startswith("?? new.txt\ninit\n")
    assert result.exit_code != 0 and "Read-only file system" in result.output
    assert git(worktree.parents[2], "log", "--format=%s", "main") == "init\n"


def test_tmp_is_private_to_each_command_and_home_is_writable(worktree: Path) -> None:
    first = sh("echo one > /tmp/x && echo cached > ~/cache && cat /tmp/x ~/cache", worktree)
    assert first.output == "one\ncached\n"
    assert sh("cat /tmp/x", worktree).exit_code == 1


def test_network_is_off_unless_the_project_allows_it(worktree: Path) -> None:
    count = "grep -c : /proc/net/dev"  # interfaces, one line each
    assert sh(count, worktree).output == "1\n"  # only the sandbox's own loopback
    host = Path("/proc/net/dev").read_text().count(":")
    assert sh(count, worktree, network=True).output == f"{host}\n"


def test_extra_paths_can_be_shown_and_others_hidden(worktree: Path, tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "tool.sh").write_text("echo tool ran\n")
    assert sh(f"bash {tools}/tool.sh", worktree).exit_code == 127
    assert sh(f"bash {tools}/tool.sh", worktree, extra_ro_paths=(str(tools),)).output == "tool ran\n"
    opt = sorted(p.name for p in Path("/usr").iterdir())
    assert sh("ls /usr", worktree, hidden_paths=("/usr/share",)).output.split() == opt
    assert sh("ls -A /usr/share", worktree, hidden_paths=("/usr/share",)).output == ""


def test_the_policy_mirrors_the_config_table() -> None:
    settings = ShipyardConfig().sandbox
    assert SandboxPolicy.of(settings) == SandboxPolicy()
    names = {f.name for f in dataclasses.fields(SandboxPolicy)}
    assert names == set(type(settings).model_fields)
