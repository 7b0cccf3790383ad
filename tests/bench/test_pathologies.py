"""`shipyard bench --scenario pathologies`: every pathology staged, detected and contained, one row each."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from cli_helpers import invoke
from shipyard.bench.pathologies import PATHOLOGIES


def test_the_pathology_table_prints_every_row_detected_and_contained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "bench.json"
    result = invoke("bench", "--scenario", "pathologies", "--json", str(out))
    assert result.exit_code == 0, result.stdout
    assert "pathologies: what goes wrong quietly" in result.stdout
    rows = json.loads(out.read_text())["pathologies"]
    assert len(rows) == len(PATHOLOGIES) == 8
    for row in rows:
        assert row["detected"] and row["contained"], row
        assert row["time_to_contain_s"] is not None and row["time_to_contain_s"] >= 0
        assert row["pathology"] in result.stdout
    assert "met     every pathology detected and contained: 8 of 8" in result.stdout


def test_one_pathology_can_be_picked_and_an_unknown_one_is_refused() -> None:
    picked = invoke("bench", "--scenario", "pathologies:red_main")
    assert picked.exit_code == 0 and "red main: two merges break together" in picked.stdout
    assert "conflict storm" not in picked.stdout
    wrong = invoke("bench", "--scenario", "pathologies:nope")
    assert wrong.exit_code == 2 and "unknown variant `nope` of `pathologies`" in wrong.stderr
