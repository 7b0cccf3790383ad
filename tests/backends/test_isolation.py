"""The isolation check on real git: what an agent must not change is caught, and what Shipyard itself
does meanwhile (merges onto the shared branch, keeping the checkout in step, other agents' work) is not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cli_helpers import git
from shipyard.backends.isolation import IsolationGuard
from shipyard.fleet.runtime import HARNESS, agent_identity
from shipyard.git import GitRepo

Change = Callable[[Path, Path], None]  # (repo root, the agent's worktree)


@pytest.fixture
def setup(repo: Path) -> tuple[GitRepo, IsolationGuard, Path]:
    """A repository with Shipyard's state folder and the agent's worktree in it."""
    gitrepo = GitRepo.open(repo)
    state = repo / ".shipyard"
    gitrepo.ensure_ignored("/.shipyard/")
    tree = gitrepo.add_worktree(state / "worktrees" / "w1", "shipyard/w1", "main")
    return gitrepo, IsolationGuard(repo, "main", state), tree


def _violations(setup: tuple[GitRepo, IsolationGuard, Path], change: Change) -> list[str]:
    gitrepo, guard, tree = setup
    before = guard.snapshot(tree)
    change(gitrepo.root, tree)
    return guard.violations(before, guard.snapshot(tree))


def test_work_inside_the_worktree_is_fine(setup: tuple[GitRepo, IsolationGuard, Path]) -> None:
    def change(repo: Path, tree: Path) -> None:
        (tree / "new.py").write_text("x = 1\n")
        (tree / "README.md").write_text("changed\n")
        git(tree, "add", "-A")
        git(tree, "commit", "-q", "-m", "its own commit on its own branch")

    assert _violations(setup, change) == []


def test_shipyard_merges_meanwhile_are_not_violations(setup: tuple[GitRepo, IsolationGuard, Path]) -> None:
    gitrepo = setup[0]

    def another_agent_lands_work(repo: Path, tree: Path) -> None:
        other = gitrepo.add_worktree(repo / ".shipyard" / "worktrees" / "w2", "shipyard/w2", "main")
        (other / "b.py").write_text("b = 2\n")  # another agent's files: not compared
        sha = gitrepo.commit_all(other, "b", agent_identity("worker-2"), HARNESS)
        assert sha is not None
        old = gitrepo.rev_parse("main") or ""
        result = gitrepo.merge_onto("main", sha, "merge b", agent_identity("worker-2"), HARNESS)
        assert result.merged and gitrepo.sync_checkout("main", old, result.sha or "")
        assert (repo / "b.py").exists()  # the person's checkout was kept in step
        gitrepo.remove_worktree(other, "shipyard/w2")

    assert _violations(setup, another_agent_lands_work) == []


def _unrelated_commit(repo: Path) -> str:
    return git(repo, "commit-tree", "HEAD^{tree}", "-m", "rewritten").strip()


OUTSIDE: dict[str, tuple[Change, str]] = {
    "a file in the checkout": (
        lambda repo, tree: (repo / "README.md").write_text("x\n"),
        "README.md changed",
    ),
    "a new file in the checkout": (
        lambda repo, tree: (repo / "new.txt").write_text("x\n"),
        "new.txt changed",
    ),
    "a commit on the shared branch": (
        lambda repo, tree: git(repo, "commit", "-q", "--allow-empty", "-m", "x"),
        "by t@example.com landed on `main` without Shipyard",
    ),
    "the shared branch rewound": (
        lambda repo, tree: git(repo, "update-ref", "refs/heads/main", _unrelated_commit(repo)),
        "was moved or rewritten",
    ),
    "a tag": (lambda repo, tree: git(repo, "tag", "v1"), "ref `refs/tags/v1` changed"),
    "the checkout's branch": (lambda repo, tree: git(repo, "switch", "-q", "-c", "side"), "switched HEAD"),
    "its own branch": (
        lambda repo, tree: git(tree, "switch", "-q", "-c", "mine"),
        "its own worktree switched",
    ),
    "the shared config": (
        lambda repo, tree: git(tree, "config", "user.name", "Agent"),
        ".git/config changed",
    ),
    "a hook": (
        lambda repo, tree: (repo / ".git" / "hooks" / "pre-commit").write_text("#!/bin/sh\n"),
        "hooks/pre-commit changed",
    ),
}


@pytest.mark.parametrize("what", list(OUTSIDE))
def test_changes_outside_the_worktree_are_caught(
    setup: tuple[GitRepo, IsolationGuard, Path], what: str
) -> None:
    change, expected = OUTSIDE[what]
    found = _violations(setup, change)
    assert any(expected in line for line in found), found


def test_a_sibling_worktree_may_change_but_not_switch_branch(
    setup: tuple[GitRepo, IsolationGuard, Path],
) -> None:
    gitrepo, guard, tree = setup
    sibling = gitrepo.add_worktree(gitrepo.root / ".shipyard" / "worktrees" / "w2", "shipyard/w2", "main")
    before = guard.snapshot(tree)
    (sibling / "its-own-work.py").write_text("")  # its own agent's work: not attributable, not compared
    assert guard.violations(before, guard.snapshot(tree)) == []
    git(sibling, "switch", "-q", "-c", "elsewhere")
    found = guard.violations(before, guard.snapshot(tree))
    assert f"worktree {sibling.resolve()} switched from `shipyard/w2` to `elsewhere`" in found
