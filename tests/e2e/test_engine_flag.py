"""`--engine` and `--address` on `run` and `resume`: bad values are one line (exit 2, nothing written), the
flag wins over `[cluster]` in shipyard.toml, and `resume` keeps the engine the run was started with."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from cli_helpers import FAST_RETRY, git, invoke, make_repo, snapshot
from shipyard.board.sqlite import SqliteBoard
from shipyard.cluster import address
from shipyard.config import ray_installed
from shipyard.fleet.settings import CONFIG_META

needs_ray = pytest.mark.skipif(not ray_installed(), reason="needs the ray extra")
SIM = ["--model", "sim", "--workers", "2"]


def _refused(root: Path, *args: str, env: dict[str, str | None] | None = None) -> str:
    before = snapshot(root)
    result = invoke(*args, env=env)
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("shipyard: error: "), lines
    assert snapshot(root) == before
    return lines[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unknown_engine_is_one_line(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "target")
    line = _refused(root, "run", str(root), *SIM, "--engine", "nosuch")
    assert "--engine `nosuch`: unknown engine; use --engine local" in line


def test_engine_ray_without_ray_names_the_install_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shipyard.sections.ray_installed", lambda: False)
    root = make_repo(tmp_path / "target")
    line = _refused(root, "run", str(root), *SIM, "--engine", "ray")
    assert "--engine ray: Ray is not installed; run `pip install 'shipyard[ray]'`" in line


def test_an_address_without_the_ray_engine_is_one_line(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "target")
    line = _refused(root, "run", str(root), *SIM, "--address", "127.0.0.1:6379")
    assert "--address is the Ray cluster to run workers on: add --engine ray" in line


@needs_ray
def test_an_address_nobody_answers_names_the_flag(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "target")
    address = f"127.0.0.1:{_free_port()}"
    line = _refused(root, "run", str(root), *SIM, "--engine", "ray", "--address", address)
    assert f"--address {address!r}: cannot join the Ray cluster" in line


def _stored_cluster(root: Path) -> dict[str, object]:
    board = SqliteBoard(root / ".shipyard" / "board.sqlite")
    try:
        return dict(json.loads(board.get_meta(CONFIG_META) or "{}")["cluster"])
    finally:
        board.close()


@needs_ray
def test_the_flag_wins_over_the_file_and_resume_keeps_it(tmp_path: Path) -> None:
    """shipyard.toml says ray (at an address nobody answers); `--engine local` runs here, and so does
    `resume`, which says where the run differs from the file; `resume --engine ray` is refused."""
    root = make_repo(tmp_path / "target")
    address = f"127.0.0.1:{_free_port()}"
    toml = f'goal = "simulate"\n[sim]\ntasks = 4\n[budget]\ntokens = 1\n{FAST_RETRY}'
    (root / "shipyard.toml").write_text(f'{toml}[cluster]\nengine = "ray"\naddress = "{address}"\n')
    git(root, "add", "-A")
    git(root, "commit", "-qm", "config")
    started = invoke("run", str(root), *SIM, "--engine", "local")
    assert started.exit_code == 1, started.stdout + started.stderr  # the budget stops it: unfinished
    assert _stored_cluster(root)["engine"] == "local"
    resumed = invoke("resume", str(root))
    assert resumed.exit_code == 1, resumed.stdout + resumed.stderr
    assert 'cluster.engine = "local" (shipyard.toml: "ray")' in resumed.stdout
    line = _refused(root, "resume", str(root), "--engine", "ray")
    assert f"--address {address!r}" not in line and "cannot join the Ray cluster" in line
    moved = f"127.0.0.1:{_free_port()}"  # the head came back elsewhere: --address reaches the resumed run
    line = _refused(root, "resume", str(root), "--engine", "ray", "--address", moved)
    assert f"--address {moved!r}: cannot join the Ray cluster" in line
    stored = _stored_cluster(root)  # refused: the run's own settings are as they were
    assert (stored["engine"], stored["address"]) == ("local", address)


@needs_ray
def test_a_ray_address_nobody_answers_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """With `address = "auto"` Ray joins `$RAY_ADDRESS`: that is the address to check, and to name."""
    root = make_repo(tmp_path / "target")
    address = f"127.0.0.1:{_free_port()}"
    before = snapshot(root)
    result = invoke("run", str(root), *SIM, "--engine", "ray", env={"RAY_ADDRESS": address})
    assert result.exit_code == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert f"$RAY_ADDRESS {address!r}: cannot join the Ray cluster" in line and "fix $RAY_ADDRESS" in line
    assert snapshot(root) == before


@needs_ray
def test_auto_with_no_cluster_on_this_machine_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`address = "auto"` joins `$RAY_ADDRESS`, the cluster `ray start --head` left on this machine, or
    one it finds running; with none, Ray would fail only after the run's state is written."""
    monkeypatch.setattr(address, "_gcs_running", lambda: False)  # whatever else runs on this machine
    root = make_repo(tmp_path / "target")
    empty = tmp_path / "ray-tmp"
    empty.mkdir()
    env = {"RAY_ADDRESS": None, "RAY_TMPDIR": str(empty)}
    line = _refused(root, "run", str(root), *SIM, "--engine", "ray", env=env)
    assert "no Ray cluster was started on this machine and $RAY_ADDRESS is unset" in line
    assert "start it with `ray start --head`" in line
