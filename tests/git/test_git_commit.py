"""Committing in a worktree and merging the shared branch into it for an agent."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from shipyard.errors import GitError
from shipyard.git import GitRepo, Identity
from shipyard.git.ref import head_commit, no_merge_pending

if TYPE_CHECKING:
    from git_helpers import Tree

WORKER = Identity("worker-1", "worker-1@shipyard")
HARNESS = Identity("Shipyard", "shipyard@localhost")


def test_commit_all_stages_everything_with_the_given_identities(
    repo: GitRepo, tmp_path: Path, tree: Tree
) -> None:
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    tree.write(path, {"new.txt": "x\n", "README.md": "edited\n"})
    (path / "c.txt").unlink()
    sha = repo.commit_all(path, "worker: do the thing\n\nbody", WORKER, HARNESS)
    assert sha is not None and repo.rev_parse("shipyard/w1") == sha
    assert repo.changed_files(path) == []
    who = tree.git(path, "log", "-1", "--format=%an <%ae> / %cn <%ce> / %s")
    assert who == "worker-1 <worker-1@shipyard> / Shipyard <shipyard@localhost> / worker: do the thing"
    names = tree.git(path, "show", "--name-status", "--format=", "HEAD").splitlines()
    assert names == ["M\tREADME.md", "D\tc.txt", "A\tnew.txt"]


def test_commit_all_with_nothing_to_commit(repo: GitRepo, tmp_path: Path) -> None:
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    before = repo.rev_parse("shipyard/w1")
    assert repo.commit_all(path, "nothing", WORKER, HARNESS) is None
    assert repo.rev_parse("shipyard/w1") == before


def test_start_merge_clean_commits_the_merge(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    tree.commit(path, {"mine.txt": "w\n"})
    tree.commit(repo.root, {"theirs.txt": "m\n"})
    assert repo.start_merge(path, "main") == ()
    assert (path / "theirs.txt").exists()
    assert tree.git(path, "log", "-1", "--format=%P %an").count(" ") == 2
    assert repo.contains("shipyard/w1", "main")


def test_start_merge_conflict_then_commit_all_then_land(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    tree.commit(path, {"c.txt": "worker\n2\n3\n", "mine.txt": "w\n"})
    tree.commit(repo.root, {"c.txt": "main\n2\n3\n"})
    assert repo.start_merge(path, "main") == ("c.txt",)
    text = (path / "c.txt").read_text()
    assert "<<<<<<<" in text and "=======" in text and ">>>>>>>" in text
    tree.write(path, {"c.txt": "both\n2\n3\n"})
    sha = repo.commit_all(path, "merge main", WORKER, HARNESS, repo.rev_parse("main"))
    assert sha is not None
    assert repo.rev_parse(f"{sha}^2") == repo.rev_parse("main")
    assert repo.rev_parse("MERGE_HEAD") is None
    result = repo.merge_onto("main", "shipyard/w1", "land w1", HARNESS, HARNESS)
    assert result.merged and result.fast_forward and result.sha == sha
    assert tree.git(repo.root, "show", "main:c.txt") == "both\n2\n3"


def test_commit_all_concludes_a_merge_that_kept_ours(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    tree.commit(path, {"c.txt": "worker\n2\n3\n"})
    tree.commit(repo.root, {"c.txt": "main\n2\n3\n"})
    assert repo.start_merge(path, "main") == ("c.txt",)
    tree.write(path, {"c.txt": "worker\n2\n3\n"})  # resolution identical to HEAD: nothing staged
    sha = repo.commit_all(path, "merge main, keep mine", WORKER, HARNESS, repo.rev_parse("main"))
    assert sha is not None and repo.contains("shipyard/w1", "main")


def test_start_merge_refused_by_local_changes_raises(repo: GitRepo, tmp_path: Path, tree: Tree) -> None:
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    tree.commit(repo.root, {"c.txt": "main\n2\n3\n"})
    tree.write(path, {"c.txt": "uncommitted\n2\n3\n"})
    with pytest.raises(GitError):
        repo.start_merge(path, "main")
    assert (path / "c.txt").read_text() == "uncommitted\n2\n3\n"


def test_head_commit_reads_a_loose_branch_and_declines_the_rest(
    repo: GitRepo, tmp_path: Path, tree: Tree
) -> None:
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    sha = tree.commit(path, {"new.txt": "x\n"})
    assert head_commit(path) == sha
    assert head_commit(repo.root) is None  # the main work tree: `.git` is a folder, git is asked
    tree.git(repo.root, "pack-refs", "--all")
    assert head_commit(path) is None  # packed: no loose file to read
    assert repo.commit_all(path, "m", WORKER, HARNESS) is None
    tree.write(path, {"more.txt": "y\n"})
    assert repo.commit_all(path, "m", WORKER, HARNESS) == repo.rev_parse("shipyard/w1")
    tree.git(path, "checkout", "--quiet", "--detach")
    assert head_commit(path) is None


def test_no_merge_pending_is_read_from_the_admin_folder_and_says_so_only_when_plain(
    repo: GitRepo, tmp_path: Path, tree: Tree
) -> None:
    path = repo.add_worktree(tmp_path / "w1", "shipyard/w1", "main")
    assert no_merge_pending(path)
    tree.commit(path, {"c.txt": "worker side\n"})
    tree.commit(repo.root, {"c.txt": "main side\n"})
    assert repo.start_merge(path, "main") == ("c.txt",)
    assert not no_merge_pending(path)  # MERGE_HEAD is there: git is asked
    assert not no_merge_pending(repo.root)  # `.git` is a folder: not plainly a linked worktree


def test_nested_repositories_are_found_in_every_form(tmp_path: Path) -> None:
    from shipyard.git.hazard import nested_repositories

    root = tmp_path / "w"
    (root / "a" / "b" / ".git").mkdir(parents=True)  # a repository
    (root / ".git").write_text("gitdir: /elsewhere\n")  # the worktree's own pointer: not nested
    (root / "c").mkdir()
    (root / "c" / ".git").write_text("gitdir: /tmp/x\n")  # a pointer to a repository anywhere
    (root / "d").mkdir()
    (root / "d" / ".git").symlink_to(tmp_path)  # a link
    (tmp_path / "outside" / ".git").mkdir(parents=True)
    (root / "e").symlink_to(tmp_path / "outside")  # links to folders are not followed
    assert nested_repositories(root) == ["a/b/.git", "c/.git", "d/.git"]
