"""`shipyard doctor` on a Ray cluster: reachable, its nodes, its worker slots, and what each slot node
lacks (git, bubblewrap, the worker model's key, the workers' CLIs and their keys, a writable
`node_dir`), probed on the node itself."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from shipyard import __version__
from shipyard.backends.catalog import covered_roles, find_binary, kind_of, on_nodes
from shipyard.cli.diagnose import Row
from shipyard.cluster.executor import connect
from shipyard.config import BackendConfig, ShipyardConfig
from shipyard.domain import Role
from shipyard.errors import ConfigError
from shipyard.models.factory import parse_model_string

PROBE_TIMEOUT_S = 60.0


def cluster_rows(config: ShipyardConfig) -> list[Row]:
    """One row for the cluster and one per node that offers worker slots."""
    cluster = config.cluster
    try:
        owned = connect(cluster, config.workers)
    except ConfigError as exc:
        return [Row("ray cluster", "missing", str(exc), "start the cluster or fix [cluster] address")]
    try:
        alive = [n for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
        slot_nodes = [n for n in alive if n.get("Resources", {}).get(cluster.slot_resource, 0) > 0]
        slots = sum(n["Resources"][cluster.slot_resource] for n in slot_nodes)
        joined = ray.get_runtime_context().gcs_address  # "auto" may find another cluster than meant
        seen = f"{len(alive)} nodes alive, {slots:g} worker slots (`{cluster.slot_resource}`) at {joined}"
        if not slot_nodes:
            fix = f"""start nodes with `ray start --resources='{{"{cluster.slot_resource}": 8}}'`"""
            return [Row("ray cluster", "missing", seen, fix)]
        rows = [Row("ray cluster", "ok", seen)]
        return rows + [_node_row(config, node) for node in slot_nodes]
    finally:
        if owned:
            ray.shutdown()


def _node_row(config: ShipyardConfig, node: dict[str, object]) -> Row:
    ip, node_id = str(node.get("NodeManagerAddress", "?")), str(node["NodeID"])
    probe = ray.remote(_probe).options(
        num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False)
    )
    try:
        call = probe.remote(
            _key_env(config), config.cluster.node_dir, config.sandbox, _worker_clis(config), __version__
        )
        lacks: list[str] = ray.get(call, timeout=PROBE_TIMEOUT_S)
    except Exception as exc:  # whatever stops the probe is the finding
        return Row(f"ray node {ip}", "missing", f"the probe failed: {str(exc)[:150]}", "check the node")
    if lacks:
        fix = "install what is missing on that node (and shipyard itself, same version)"
        return Row(f"ray node {ip}", "missing", "lacks " + ", ".join(lacks), fix)
    clis = "".join(f", the {entry.cli} CLI" for entry in _worker_clis(config))
    return Row(f"ray node {ip}", "ok", f"git, bubblewrap{clis}, the worker's keys and node_dir are there")


def _worker_clis(config: ShipyardConfig) -> list[BackendConfig]:
    """The workers' CLIs, which run on the nodes (each needs its binary and its key there)."""
    return on_nodes(config).get(Role.WORKER, [])


def _key_env(config: ShipyardConfig) -> str | None:
    """The environment variable the worker's model reads its key from (None: it needs none)."""
    if Role.WORKER in covered_roles(config):
        return None  # CLIs play every worker slot: the worker's model is never used
    try:
        ref = parse_model_string(config.model_for(Role.WORKER))
    except ConfigError:
        return None
    if ref.provider not in ("openai", "anthropic"):
        return None
    provider = config.providers.get(ref.provider)
    return (provider.api_key_env if provider else None) or f"{ref.provider.upper()}_API_KEY"


def _probe(
    key_env: str | None, node_dir: str, sandbox: object, clis: list[BackendConfig], version: str
) -> list[str]:
    """Runs on the node: what it lacks (names only, never a key's value)."""
    from shipyard import __version__ as here
    from shipyard.agent.sandbox import probe
    from shipyard.config import SandboxConfig
    from shipyard.git.repo import git_problem

    lacks = [] if here == version else [f"shipyard {version} (it has {here})"]
    if git_problem():
        lacks.append("git 2.38+")
    if isinstance(sandbox, SandboxConfig) and sandbox.enabled:
        problem = probe(sandbox.bwrap).problem
        if problem:
            lacks.append(problem)
    if key_env and not os.environ.get(key_env):
        lacks.append(f"${key_env}")
    lacks += _cli_lacks(clis)
    try:
        Path(node_dir).mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=node_dir).close()
    except OSError:
        lacks.append(f"a writable node_dir ({node_dir})")
    return list(dict.fromkeys(lacks))


def _cli_lacks(clis: list[BackendConfig]) -> list[str]:
    """On the node: the workers' CLIs it cannot run (binary not found as locally, or key not set)."""
    lacks = []
    for entry in clis:
        kind = kind_of(entry, "backends.worker")
        if find_binary(kind, entry, os.environ) is None:
            where = entry.binary or "on PATH"
            lacks.append(f"the {kind.command} CLI ({where}; npm install -g {kind.package})")
        key_env = entry.api_key_env or kind.key_env
        if not os.environ.get(key_env):
            lacks.append(f"${key_env}")
    return lacks
