"""Watches the Ray cluster's control process (its GCS, on the Ray head node) from the orchestrator.

Ray keeps the cluster's state in the GCS, in memory. When it dies, actors already running still answer,
but the nodes go within a minute, and Ray ends this process 60 s after the GCS went
(`gcs_rpc_server_reconnect_timeout_s`), with a line of its own and nothing the run could record: the
board would say `running`. So a short outage costs nothing, and once the GCS has not answered for
`[cluster] head_lost_s` (at most 50 s, so the run ends before Ray ends it) the run stops itself: fatal,
with one line that says how to go on, while the actors still answer, so the tasks at work go back to
the board and the attempts that did not land are kept.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

from shipyard.domain import Event
from shipyard.fleet.runtime import Runtime

PERIOD_S = 1.0
CONNECT_S = 1.0


async def watch_head(rt: Runtime, address: str, grace_s: float, period_s: float = PERIOD_S) -> None:
    """Until the run stops: check every `period_s` that the GCS at `address` (`HOST:PORT`) accepts a
    connection; after `grace_s` without one, record `ClusterHeadLost` and stop the run. An address
    that never answered is never held against the run (a GCS this machine cannot route to, say)."""
    host, _, port = address.rpartition(":")
    down_since: float | None = None
    answered = False
    while not rt.stop.is_set:
        await asyncio.sleep(period_s)
        if await asyncio.to_thread(_answers, host, int(port)):
            down_since, answered = None, True
            continue
        now = time.monotonic()
        down_since = now if down_since is None else down_since
        if answered and now - down_since >= grace_s:
            rt.record(Event("ClusterHeadLost", {"address": address, "down_s": round(now - down_since, 1)}))
            rt.stop.set_fatal(
                f"the Ray cluster's head ({address}) has not answered for {grace_s:.0f} s: start the "
                "cluster again, then `shipyard resume`"
            )
            return


def watched(address: str, gcs: Callable[[], str]) -> str:
    """What to watch for the head's death: the GCS (`gcs()`, once connected), or for a `ray://`
    address the Ray Client server this process talks through (the GCS may not be routable from here)."""
    if address.startswith("ray://"):
        return address.removeprefix("ray://").split("/", 1)[0]
    return gcs()


def _answers(host: str, port: int) -> bool:
    """Whether something accepts a TCP connection at `host:port` (the GCS's gRPC port)."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_S):
            return True
    except OSError:
        return False
