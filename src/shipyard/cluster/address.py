"""Whether `[cluster] address` answers, asked before anything is written (no Ray import here)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from shipyard.config import ClusterConfig
from shipyard.errors import SetupError

CONNECT_TIMEOUT_S = 5.0


def unreachable(cluster: ClusterConfig, detail: str) -> SetupError:
    return SetupError(
        f"shipyard.toml: `cluster.address` = {cluster.address!r}: cannot join the Ray cluster "
        f"({detail}); start it with `ray start --head` or fix the address"
    )


def refuse_unreachable(cluster: ClusterConfig) -> None:
    """Refuse a HOST:PORT nobody answers on at once (Ray itself retries for minutes, then exits), and
    `auto` when no cluster was started on this machine (nothing for Ray to find)."""
    if cluster.address == "auto" and not os.environ.get("RAY_ADDRESS", "").strip():
        found = local_cluster_address()
        if found is None and not _gcs_running():
            raise unreachable(cluster, "no Ray cluster was started on this machine and $RAY_ADDRESS is unset")
        if found is None:
            return  # Ray finds the cluster by its processes
        cluster = cluster.model_copy(update={"address": found})
    host, sep, port = cluster.address.rpartition(":")
    if not sep or not port.isdigit() or "://" in cluster.address:
        return  # auto, local, or a ray:// client address: Ray finds or checks it
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise unreachable(cluster, " ".join(str(exc).split())[:200]) from None


def local_cluster_address() -> str | None:
    """The address `ray start --head` on this machine left for `auto` to find (None: none was started),
    where Ray keeps it: `$RAY_TMPDIR` (else `$TMPDIR`, else /tmp) / ray / ray_current_cluster."""
    base = os.environ.get("RAY_TMPDIR") or os.environ.get("TMPDIR") or "/tmp"
    try:
        text = (Path(base) / "ray" / "ray_current_cluster").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def _gcs_running() -> bool:
    """Whether a Ray cluster's control process (`gcs_server`) runs on this machine (what `auto` looks
    for when no address file is left)."""
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "gcs_server":
                return True
        except OSError:
            continue
    return False
