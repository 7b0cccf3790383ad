"""`shipyard doctor` on a Ray cluster: reachable, its nodes, its worker slots, and what each slot node
lacks (git, bubblewrap, the worker model's key, a writable `node_dir`), probed on the node itself."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from shipyard.cli.diagnose import Row
from shipyard.cluster.executor import connect
from shipyard.config import ShipyardConfig
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
        seen = f"{len(alive)} nodes alive, {slots:g} worker slots (`{cluster.slot_resource}`)"
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
        lacks: list[str] = ray.get(
            probe.remote(_key_env(config), config.cluster.node_dir, config.sandbox),
            timeout=PROBE_TIMEOUT_S,
        )
    except Exception as exc:  # whatever stops the probe is the finding
        return Row(f"ray node {ip}", "missing", f"the probe failed: {str(exc)[:150]}", "check the node")
    if lacks:
        fix = "install what is missing on that node (and shipyard itself, same version)"
        return Row(f"ray node {ip}", "missing", "lacks " + ", ".join(lacks), fix)
    return Row(f"ray node {ip}", "ok", "git, bubblewrap, the worker's key and node_dir are there")


def _key_env(config: ShipyardConfig) -> str | None:
    """The environment variable the worker's model reads its key from (None: it needs none)."""
    try:
        ref = parse_model_string(config.model_for(Role.WORKER))
    except ConfigError:
        return None
    if ref.provider not in ("openai", "anthropic"):
        return None
    provider = config.providers.get(ref.provider)
    return (provider.api_key_env if provider else None) or f"{ref.provider.upper()}_API_KEY"


def _probe(key_env: str | None, node_dir: str, sandbox: object) -> list[str]:
    """Runs on the node: what it lacks (names only, never a key's value)."""
    from shipyard.agent.sandbox import probe
    from shipyard.config import SandboxConfig
    from shipyard.git.repo import git_problem

    lacks = []
    if git_problem():
        lacks.append("git 2.38+")
    if isinstance(sandbox, SandboxConfig) and sandbox.enabled:
        problem = probe(sandbox.bwrap).problem
        if problem:
            lacks.append(problem)
    if key_env and not os.environ.get(key_env):
        lacks.append(f"${key_env}")
    try:
        Path(node_dir).mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=node_dir).close()
    except OSError:
        lacks.append(f"a writable node_dir ({node_dir})")
    return lacks
