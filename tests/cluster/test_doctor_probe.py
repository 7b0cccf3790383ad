"""The node probe of `shipyard doctor` on a Ray cluster, run here as a node runs it: a node whose Shipyard
is another version than the head's is named (its workers would run other code), names never values."""

from __future__ import annotations

from pathlib import Path

from shipyard import __version__
from shipyard.cluster.doctor import _probe
from shipyard.config import SandboxConfig

OFF = SandboxConfig.model_validate({"enabled": False})


def test_a_node_with_the_heads_version_lacks_nothing(tmp_path: Path) -> None:
    assert _probe(None, str(tmp_path / "node"), OFF, [], __version__) == []


def test_a_node_with_another_version_is_named(tmp_path: Path) -> None:
    lacks = _probe(None, str(tmp_path / "node"), OFF, [], "9.9.9")
    assert lacks == [f"shipyard 9.9.9 (it has {__version__})"]


def test_a_missing_key_is_named_not_shown(tmp_path: Path) -> None:
    lacks = _probe("SY_PROBE_ABSENT_KEY", str(tmp_path / "node"), OFF, [], __version__)
    assert lacks == ["$SY_PROBE_ABSENT_KEY"]
