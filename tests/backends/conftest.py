"""Fixtures for backend tests: a target repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_helpers import make_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository on `main` with one commit."""
    return make_repo(tmp_path / "target")
