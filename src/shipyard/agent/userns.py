"""Whether the sandbox can separate agent commands from a root orchestrator (for `shipyard doctor`).

The sandbox drops every capability inside a user namespace of its own. An orchestrator running as root
where user namespaces are off (or blocked, as in many containers) has no sandbox to offer: agent commands
then run as root on the host (`allow_unsandboxed`) or not at all.
"""

from __future__ import annotations

import os
from pathlib import Path

from shipyard.agent.sandbox import probe

MAX_USER_NAMESPACES = Path("/proc/sys/user/max_user_namespaces")


def userns_problem(euid: int, max_user_namespaces: int | None, sandbox_problem: str) -> str | None:
    """The warning for a root orchestrator without user namespaces for the sandbox; None when all is well.

    `max_user_namespaces` is the kernel's limit (None when unknown); `sandbox_problem` is why bubblewrap
    cannot build a sandbox here ("" when it can).
    """
    if euid != 0:
        return None
    fix = "run Shipyard as an ordinary user, or allow user namespaces"
    if max_user_namespaces == 0:
        return (
            "Shipyard runs as root and user namespaces are off (user.max_user_namespaces = 0): agent "
            f"commands cannot be sandboxed; {fix} (sysctl -w user.max_user_namespaces=15000)"
        )
    if sandbox_problem:
        return (
            f"Shipyard runs as root and the sandbox cannot start ({sandbox_problem}): agent commands would "
            f"run as root on the host; {fix} (in a container: --security-opt seccomp=unconfined or a "
            "profile that permits unshare)"
        )
    return None


def host_userns_problem(bwrap: str = "bwrap") -> str | None:
    """`userns_problem` for this machine and process."""
    try:
        limit: int | None = int(MAX_USER_NAMESPACES.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        limit = None
    return userns_problem(os.geteuid(), limit, probe(bwrap).problem)
