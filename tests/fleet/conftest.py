"""An in-process fleet on a real git repository, with scripted models, for fleet tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import make_repo
from fleet_helpers import FleetFactory
from shipyard.board.sqlite import SqliteBoard
from shipyard.config import ShipyardConfig
from shipyard.domain import Role
from shipyard.fleet.runtime import Runtime
from shipyard.git import GitRepo
from shipyard.models.base import Model


@pytest.fixture
def fleet(tmp_path: Path) -> FleetFactory:
    """Build a runtime on a fresh repository: `fleet(models, check=..., **config)`."""

    def build(models: Mapping[Role, Model], **config: Any) -> Runtime:
        root = make_repo(tmp_path / "repo")
        cfg = ShipyardConfig.model_validate({"goal": "test goal", **config})
        board = SqliteBoard(root / ".shipyard" / "board.sqlite")
        return Runtime(config=cfg, repo=GitRepo.open(root), board=board, models=dict(models))

    return build
