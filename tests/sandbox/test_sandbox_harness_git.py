"""What an agent leaves in its worktree must not run code when the harness's own (unsandboxed) git
commits it: nested repositories with a `core.fsmonitor` command are the known route."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cli_helpers import make_repo
from shipyard.agent.shell import Shell
from shipyard.git import SHIPYARD, GitRepo


@pytest.mark.xfail(
    strict=True,
    reason="git layer: the harness's git runs a nested repository's core.fsmonitor; "
    "fix: add `-c core.fsmonitor=false -c diff.ignoreSubmodules=all` to `_CONFIG` in git/run.py",
)
def test_a_nested_repository_cannot_make_the_harness_run_code(tmp_path: Path) -> None:
    repo = GitRepo.open(make_repo(tmp_path / "target"))
    worktree = repo.add_worktree(repo.root / ".shipyard" / "worktrees" / "w", "shipyard/w", "main")
    marker = tmp_path / "pwned"
    plant = (
        "export GIT_AUTHOR_NAME=e GIT_AUTHOR_EMAIL=e@x GIT_COMMITTER_NAME=e GIT_COMMITTER_EMAIL=e@x; "
        "git init -q sub && echo x > sub/f && git -C sub add f && git -C sub commit -qm s && "
        f"git -C sub config core.fsmonitor 'touch {marker}; false' && echo planted"
    )
    result = asyncio.run(Shell(worktree).run({"command": plant}))
    assert result.text.endswith("planted"), result.text
    assert not marker.exists()  # nothing ran inside the sandbox that could reach the host
    repo.commit_all(worktree, "agent work", SHIPYARD, SHIPYARD)
    (worktree / "sub" / "f").write_text("changed\n")
    repo.commit_all(worktree, "agent work", SHIPYARD, SHIPYARD)
    assert not marker.exists()
