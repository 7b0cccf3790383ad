"""The local Ray cluster that `conftest.ray_cluster` starts: its addresses and handles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray.cluster_utils import Cluster

HEAD_IP = "127.0.0.2"
WORKER_IPS = ("127.0.0.3", "127.0.0.4")
SLOTS_PER_NODE = 4
NODE_KEY_ENV = "SHIPYARD_NODE_TEST_KEY"
NODE_KEY = "node-key-7f3a9c2e5b1d8f4a6c0e"
STORE = 80 * 1024 * 1024
HEALTH = {
    "health_check_initial_delay_ms": 1000,
    "health_check_period_ms": 1000,
    "health_check_failure_threshold": 3,
}


@dataclass
class LocalCluster:
    cluster: Cluster
    nodes: dict[str, Any]  # worker nodes by IP
    node_dir: Path

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def node_id(self, ip: str) -> str:
        return str(self.nodes[ip].node_id)
