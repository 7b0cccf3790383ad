"""Opening a repository and asking it simple questions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from shipyard.errors import GitError, RepoError, SetupError
from shipyard.git import GitRepo, Identity, init_repo
from shipyard.git.run import MIN_VERSION, git, git_version

if TYPE_CHECKING:
    from git_helpers import Tree


def test_open_resolves_top_level_from_a_subfolder(repo: GitRepo, tree: Tree) -> None:
    tree.write(repo.root, {"sub/deep/x.txt": "x"})
    opened = GitRepo.open(repo.root / "sub" / "deep")
    assert opened.root == repo.root
    assert opened.git_dir == repo.root / ".git"


def test_the_installed_git_is_read_and_new_enough() -> None:
    found = git_version()
    assert found is not None and found[:2] >= MIN_VERSION


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (
            (2, 34, 1),
            r"^git 2\.34\.1 is too old: .*`git merge-tree --write-tree`.*; install git 2\.38 or newer$",
        ),
        (None, r"^git was not found or did not run; install git 2\.38 or newer$"),
    ],
)
def test_open_refuses_a_missing_or_old_git(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, version: tuple[int, ...] | None, message: str
) -> None:
    monkeypatch.setattr("shipyard.git.repo.git_version", lambda: version)
    with pytest.raises(SetupError, match=message):
        GitRepo.open(repo.root)


def test_open_missing_path(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match=r"nowhere does not exist or is not a folder; pass the path"):
        GitRepo.open(tmp_path / "nowhere")


def test_open_not_a_repository(tmp_path: Path) -> None:
    message = f"^{tmp_path} is not a git repository; run `git init` there or pass the repository's path$"
    with pytest.raises(RepoError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GitRepo.open(tmp_path)


def test_open_bare_repository(tmp_path: Path, tree: Tree) -> None:
    tree.git(tmp_path, "init", "--quiet", "--bare", "b.git")
    with pytest.raises(RepoError, match=r"is a bare repository .*`git clone` it first"):
        GitRepo.open(tmp_path / "b.git")


def test_open_inside_git_folder(repo: GitRepo) -> None:
    with pytest.raises(RepoError, match=r"bare repository or a \.git folder"):
        GitRepo.open(repo.git_dir)


def test_open_without_commits(tmp_path: Path, tree: Tree) -> None:
    tree.git(tmp_path, "init", "--quiet", "-b", "main")
    message = r"has no commits; make a first commit \(`git commit --allow-empty -m init`\)$"
    with pytest.raises(RepoError, match=message):
        GitRepo.open(tmp_path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_open_a_repository_git_distrusts(tmp_path: Path, tree: Tree) -> None:
    tree.init(tmp_path / "theirs")
    for folder, _, names in os.walk(tmp_path / "theirs"):
        for name in [".", *names]:
            os.chown(os.path.join(folder, name), 4321, 4321)
    message = r"git cannot open it: fatal: detected dubious ownership .*safe\.directory"
    with pytest.raises(RepoError, match=message):
        GitRepo.open(tmp_path / "theirs")


def test_rev_parse_and_branches(repo: GitRepo, tree: Tree) -> None:
    head = tree.git(repo.root, "rev-parse", "HEAD")
    assert repo.rev_parse("main") == head
    assert repo.rev_parse("HEAD") == head
    assert repo.rev_parse("no-such-branch") is None
    assert repo.branch_exists("main")
    assert not repo.branch_exists("other")
    assert not repo.branch_exists(head)


def test_current_branch_and_detached_head(repo: GitRepo, tree: Tree) -> None:
    assert repo.current_branch() == "main"
    tree.git(repo.root, "checkout", "--quiet", "--detach")
    assert repo.current_branch() is None


def test_is_clean_counts_untracked_files_but_not_shipyard(repo: GitRepo, tree: Tree) -> None:
    assert repo.is_clean()
    tree.write(repo.root, {".shipyard/board.db": "x"})
    assert repo.is_clean()
    tree.write(repo.root, {"new.txt": "x"})
    assert not repo.is_clean()
    (repo.root / "new.txt").unlink()
    tree.write(repo.root, {"README.md": "changed\n"})
    assert not repo.is_clean()


def test_ensure_ignored_writes_info_exclude_once(repo: GitRepo, tree: Tree) -> None:
    repo.ensure_ignored(".shipyard/")
    repo.ensure_ignored(".shipyard/")
    lines = (repo.git_dir / "info" / "exclude").read_text().splitlines()
    assert lines.count(".shipyard/") == 1
    tree.write(repo.root, {".shipyard/x": "x"})
    assert tree.git(repo.root, "status", "--porcelain", "--untracked-files=all") == ""
    assert not (repo.root / ".gitignore").exists()


def test_authors_lists_each_commit(repo: GitRepo, tree: Tree) -> None:
    tree.git(repo.root, "-c", "user.name=Bob", "commit", "--quiet", "--allow-empty", "-m", "b")
    assert repo.authors("main") == ["Alice", "Alice"]  # the env identity wins over any config
    assert repo.contains("main", "HEAD~1")
    assert not repo.contains("main", "no-such-commit")
    assert not repo.contains("no-such-branch", "HEAD")


def test_git_error_carries_code_and_stderr(repo: GitRepo, tree: Tree) -> None:
    with pytest.raises(GitError) as caught:
        git(repo.root, "cat-file", "-t", "0" * 40)
    assert caught.value.code == 128
    assert "cat-file" in str(caught.value)
    assert caught.value.stderr


def test_init_repo_commits_everything(tmp_path: Path, tree: Tree) -> None:
    tree.write(tmp_path / "new", {"spec.md": "s", "pkg/a.py": "a"})
    repo = init_repo(tmp_path / "new", "trunk", Identity("Shipyard", "s@x"), "Sample project")
    assert repo.current_branch() == "trunk" and repo.is_clean()
    assert tree.git(repo.root, "log", "--format=%an|%s") == "Shipyard|Sample project"
    with pytest.raises(RepoError, match="is already a git repository"):
        init_repo(repo.root, "trunk", Identity("Shipyard", "s@x"), "again")
