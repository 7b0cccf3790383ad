"""A real multi-node Ray cluster on this machine, on loopback only, shared by a test module.

Each node has its own 127/8 address (Ray replaces 127.0.0.1 with the interface address on Linux): the
head (no worker slots) on 127.0.0.2, workers on 127.0.0.3 and 127.0.0.4. Health checks are tuned so a
killed node is declared dead in about 3 s instead of 15.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster
from raycluster import (
    HEAD_IP,
    HEALTH,
    NODE_KEY,
    NODE_KEY_ENV,
    SLOTS_PER_NODE,
    STORE,
    WORKER_IPS,
    LocalCluster,
)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[LocalCluster]:
    # Short paths: Ray's unix sockets live under RAY_TMPDIR (the limit is 107 bytes); not in the venv.
    tmp = Path(tempfile.mkdtemp(prefix="syray-", dir="/tmp"))
    old = {name: os.environ.get(name) for name in ("RAY_TMPDIR", NODE_KEY_ENV)}
    os.environ["RAY_TMPDIR"] = str(tmp)
    os.environ[NODE_KEY_ENV] = NODE_KEY  # the nodes' own provider key (set where each node starts)
    head = {
        "node_ip_address": HEAD_IP,
        "num_cpus": 1,
        "resources": {"head": 1},
        "include_dashboard": False,
        "object_store_memory": STORE,
        "_system_config": HEALTH,
    }
    cluster = Cluster(initialize_head=True, head_node_args=head)
    try:
        nodes = {
            ip: cluster.add_node(
                node_ip_address=ip,
                num_cpus=1,
                resources={"worker_slot": SLOTS_PER_NODE},
                object_store_memory=STORE,
            )
            for ip in WORKER_IPS
        }
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, _node_ip_address=HEAD_IP, log_to_driver=False)
        yield LocalCluster(cluster, nodes, tmp / "nodes")
    finally:
        ray.shutdown()
        cluster.shutdown()
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(tmp, ignore_errors=True)
