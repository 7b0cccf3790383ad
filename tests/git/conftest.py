"""Fixtures for the git layer: real repositories in temporary folders, identities always explicit."""

from __future__ import annotations

from pathlib import Path

import pytest

from git_helpers import Tree
from shipyard.git import GitRepo


@pytest.fixture
def tree() -> Tree:
    return Tree()


@pytest.fixture
def repo(tmp_path: Path, tree: Tree) -> GitRepo:
    """A repository with one commit on `main`, opened."""
    return GitRepo.open(tree.init(tmp_path / "repo"))
