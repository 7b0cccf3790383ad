"""What an agent leaves in its worktree is later handled by the harness itself, outside the sandbox:
it must not make the harness run code (a nested repository's `core.fsmonitor` when git commits it) or
read files outside (a NOTES.md symlink, read into every later agent's prompt)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from cli_helpers import git, make_repo
from shipyard.agent.paths import read_inside
from shipyard.agent.shell import Shell
from shipyard.errors import UnsafeWorktreeError
from shipyard.fleet.briefing import read_notes
from shipyard.git import SHIPYARD, GitRepo


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
    with pytest.raises(UnsafeWorktreeError, match=r"sub/\.git"):  # refused before git looks at it
        repo.commit_all(worktree, "agent work", SHIPYARD, SHIPYARD)
    (worktree / "sub" / "f").write_text("changed\n")
    with pytest.raises(UnsafeWorktreeError):
        repo.commit_all(worktree, "agent work", SHIPYARD, SHIPYARD)
    assert not marker.exists()


def test_a_notes_symlink_cannot_put_a_host_file_into_prompts(tmp_path: Path) -> None:
    secret = tmp_path / "credentials"
    secret.write_text("planted-host-secret\n")
    repo = make_repo(tmp_path / "target")
    (repo / "NOTES.md").symlink_to(secret)  # as an agent's merged commit would leave it
    git(repo, "add", "NOTES.md")
    git(repo, "commit", "-qm", "notes")
    assert "planted-host-secret" not in read_notes(repo)


def test_read_inside_reads_only_regular_files_of_the_worktree(tmp_path: Path) -> None:
    root = tmp_path / "w"
    root.mkdir()
    (tmp_path / "secret").write_text("host secret")
    (root / "NOTES.md").write_text("notes " * 10)
    (root / "out.md").symlink_to(tmp_path / "secret")
    (root / "zero.md").symlink_to("/dev/zero")
    os.mkfifo(root / "fifo.md")
    assert read_inside(root, "NOTES.md", 12) == "notes notes "
    for name in ("out.md", "zero.md", "fifo.md", "../secret", "missing.md"):
        assert read_inside(root, name, 100) is None, name


def test_a_forged_merge_head_cannot_graft_a_parent(tmp_path: Path) -> None:
    repo = GitRepo.open(make_repo(tmp_path / "target"))
    base = repo.rev_parse("main")
    git(repo.root, "commit", "-q", "--allow-empty", "-m", "other")
    other = repo.rev_parse("main")
    worktree = repo.add_worktree(repo.root / ".shipyard" / "worktrees" / "w", "shipyard/w", str(base))
    merge_head = Path(git(worktree, "rev-parse", "--git-path", "MERGE_HEAD").strip())
    merge_head = merge_head if merge_head.is_absolute() else worktree / merge_head
    merge_head.write_text(f"{other}\n")  # what an agent could write into its worktree's admin dir
    (worktree / "a.txt").write_text("work\n")
    sha = repo.commit_all(worktree, "agent work", SHIPYARD, SHIPYARD)
    parents = git(worktree, "rev-list", "--parents", "-n1", str(sha)).split()[1:]
    assert parents == [base]


def test_the_sweep_leaves_the_persons_own_worktrees(tmp_path: Path) -> None:
    from shipyard.board.memory import InMemoryBoard
    from shipyard.config import ShipyardConfig
    from shipyard.fleet.recovery import sweep_worktrees
    from shipyard.fleet.runtime import Runtime

    repo = GitRepo.open(make_repo(tmp_path / "target"))
    mine = repo.add_worktree(tmp_path / "my-feature", "feature", "main")
    ours = repo.add_worktree(repo.root / ".shipyard" / "worktrees" / "w", "shipyard/w", "main")
    rt = Runtime(config=ShipyardConfig(goal="g"), repo=repo, board=InMemoryBoard(), models={})
    sweep_worktrees(rt)
    assert mine.exists() and not ours.exists()
    assert repo.list_worktrees() == [mine.resolve()]


def test_a_prompt_link_cannot_put_a_host_file_into_prompts(tmp_path: Path) -> None:
    from shipyard.agent import render_prompt
    from shipyard.domain import Role
    from shipyard.errors import ConfigError

    secret = tmp_path / "host"
    secret.mkdir()
    (secret / "worker.md").write_text("planted-host-secret\n---user---\nu\n")
    repo = make_repo(tmp_path / "target")
    prompts = repo / ".shipyard-prompts"
    prompts.mkdir()
    (prompts / "worker.md").symlink_to(secret / "worker.md")  # as an agent's merged commit would leave it
    with pytest.raises(ConfigError, match="link out of the repository"):
        render_prompt(Role.WORKER, {}, prompts, repo)
    (prompts / "worker.md").unlink()
    prompts.rmdir()
    prompts.symlink_to(secret)  # the whole folder a link out
    with pytest.raises(ConfigError, match="link out of the repository"):
        render_prompt(Role.WORKER, {}, prompts, repo)
    prompts.unlink()
    prompts.mkdir()
    (prompts / "worker.md").write_text("own prompt\n---user---\nu\n")  # a regular file is read as before
    assert render_prompt(Role.WORKER, {}, prompts, repo) == ("own prompt", "u")
    assert "planted-host-secret" in render_prompt(Role.WORKER, {}, secret, repo)[0]  # yours, outside
