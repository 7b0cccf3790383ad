"""`RayExecutor`: workers as actors on a Ray cluster; the board, the merger, planners and the judge stay
in this process (the head). Ray's own restarts and retries stay off: the board decides what runs again."""

from __future__ import annotations

import logging
from typing import Any

import ray

from shipyard.cluster.address import refuse_unreachable, unreachable
from shipyard.cluster.node import NodeModels
from shipyard.cluster.noise import quiet_cluster_messages
from shipyard.cluster.parts import node_models
from shipyard.cluster.remote import RemoteRunner
from shipyard.cluster.shipping import Shipper
from shipyard.cluster.slots import SlotPool
from shipyard.cluster.watch import watched
from shipyard.config import ClusterConfig
from shipyard.fleet.chaos import TaskRunner
from shipyard.fleet.merger import Merger
from shipyard.fleet.runtime import Runtime


def connect(cluster: ClusterConfig, workers: int) -> bool:
    """Join (or, for `address = "local"`, start) the Ray cluster; True when this call connected."""
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {
        "log_to_driver": False,  # actors' output stays in Ray's logs; progress comes as events
        "logging_level": logging.WARNING,
        "include_dashboard": False,
    }
    if cluster.node_ip:
        kwargs["_node_ip_address"] = cluster.node_ip
    if cluster.address == "local":  # a one-machine cluster whose slots are the run's workers
        kwargs["address"] = "local"  # a new one, even when $RAY_ADDRESS names another
        kwargs["resources"] = {cluster.slot_resource: workers}
    else:
        kwargs["address"] = cluster.address
        del kwargs["include_dashboard"]
    refuse_unreachable(cluster)
    try:
        ray.init(**kwargs)
    except (OSError, RuntimeError, ValueError) as exc:
        raise unreachable(cluster, " ".join(str(exc).split())[:200]) from None
    # A dead node's raylet would print its last log lines here; the run says `WorkerLost` itself.
    logging.getLogger("ray._private.worker").setLevel(logging.ERROR)
    quiet_cluster_messages()
    return True


class RayExecutor:
    name = "ray"

    def __init__(self, cluster: ClusterConfig, workers: int, models: NodeModels = node_models) -> None:
        self._cluster = cluster
        self._models = models
        self._owns = connect(cluster, workers)
        self._head = watched(cluster.address, lambda: str(ray.get_runtime_context().gcs_address))
        self._pool: SlotPool | None = None  # one for the executor's life: its actors stay warm
        self.shipper = Shipper()  # what each node holds, across the executor's runs
        self.runners: list[RemoteRunner] = []

    def runner(self, rt: Runtime, merger: Merger) -> TaskRunner:
        if self._pool is None:
            self._pool = SlotPool(self._cluster, self._models, warm=rt.config.workers)
        runner = RemoteRunner(rt, merger, self._pool, self.shipper, self._head)
        self.runners.append(runner)
        return runner

    def slots(self) -> float:
        """The worker slots the cluster offers now (0 when no node advertises the resource)."""
        resources = ray.cluster_resources()  # type: ignore[no-untyped-call]
        return float(resources.get(self._cluster.slot_resource, 0.0))

    def close(self) -> None:
        self.shipper.close()
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._owns:
            ray.shutdown()
