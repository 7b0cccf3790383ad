"""`[cluster]` without Ray, or with what Ray cannot do yet: one line naming the fix, exit 2, nothing written;
and Ray is never imported unless the configuration asks for it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import invoke, make_repo, snapshot
from shipyard import config as config_module
from shipyard.backends.doctor import command_environments
from shipyard.cli.diagnose import cli_rows
from shipyard.config import ShipyardConfig


def _refused(root: Path, needle: str) -> str:
    before = snapshot(root)
    result = invoke("run", str(root), "--model", "sim")
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], lines
    assert snapshot(root) == before
    return lines[0]


def test_a_ray_engine_without_ray_installed_names_the_install_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "target")
    (repo / "shipyard.toml").write_text('[cluster]\nengine = "ray"\n')
    monkeypatch.setattr("shipyard.sections.ray_installed", lambda: False)
    line = _refused(repo, "`cluster.engine`: Ray is not installed")
    assert "run `pip install 'shipyard[ray]'`" in line


def test_an_engine_override_changes_the_engine_only(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "target")
    (repo / "shipyard.toml").write_text('[cluster]\nengine = "ray"\nnode_dir = "/tmp/x"\n')
    loaded = config_module.load_config(repo, config_module.Overrides(engine="local"))
    assert loaded.cluster.engine == "local" and loaded.cluster.node_dir == "/tmp/x"


def test_the_head_leaves_worker_clis_to_the_nodes(tmp_path: Path) -> None:
    """On Ray the workers' CLIs run on the nodes: the head neither needs them nor their keys."""
    repo = make_repo(tmp_path / "target")
    port = _free_port()
    cli = '[[backends.worker]]\ncli = "claude"\nbinary = "/nonexistent/claude"\napi_key_env = "SY_ABSENT"\n'
    (repo / "shipyard.toml").write_text(f'[cluster]\nengine = "ray"\naddress = "127.0.0.1:{port}"\n{cli}')
    line = _refused(repo, "cannot join the Ray cluster")  # the one problem: the cluster
    assert "claude" not in line and "SY_ABSENT" not in line
    loaded = config_module.load_config(repo)
    assert cli_rows(loaded, {}) == [] and command_environments(loaded, {}) == []  # doctor asks the nodes


def test_an_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "target")
    port = _free_port()  # a port nobody listens on
    (repo / "shipyard.toml").write_text(f'[cluster]\nengine = "ray"\naddress = "127.0.0.1:{port}"\n')
    line = _refused(repo, "cannot join the Ray cluster")
    assert "ray start --head" in line


def test_doctor_reports_an_unreachable_cluster(tmp_path: Path) -> None:
    from shipyard.cluster.doctor import cluster_rows

    address = f"127.0.0.1:{_free_port()}"
    config = ShipyardConfig.model_validate({"cluster": {"engine": "ray", "address": address}})
    (row,) = cluster_rows(config)
    assert row.check == "ray cluster" and row.status == "missing"
    assert "cannot join the Ray cluster" in row.seen


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_local_engine_never_imports_ray() -> None:
    code = (
        "import sys, shipyard.cli.app, shipyard.fleet.run\n"
        "from shipyard.cli.build import build_executor\n"
        "from shipyard.config import ShipyardConfig\n"
        "assert build_executor(ShipyardConfig()).name == 'local'\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
