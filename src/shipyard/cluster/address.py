"""Whether `[cluster] address` answers, asked before anything is written (no Ray import here)."""

from __future__ import annotations

import socket

from shipyard.config import ClusterConfig
from shipyard.errors import SetupError

CONNECT_TIMEOUT_S = 5.0


def unreachable(cluster: ClusterConfig, detail: str) -> SetupError:
    return SetupError(
        f"shipyard.toml: `cluster.address` = {cluster.address!r}: cannot join the Ray cluster "
        f"({detail}); start it with `ray start --head` or fix the address"
    )


def refuse_unreachable(cluster: ClusterConfig) -> None:
    """Refuse a HOST:PORT nobody answers on at once (Ray itself retries for minutes, then exits)."""
    host, sep, port = cluster.address.rpartition(":")
    if not sep or not port.isdigit() or "://" in cluster.address:
        return  # auto, local, or a ray:// client address: Ray finds or checks it
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise unreachable(cluster, " ".join(str(exc).split())[:200]) from None
