"""A CLI run inside the same bubblewrap sandbox as the built-in agent's shell, with the gateway as its
only network.

The worktree is writable, the rest of the system read-only, the person's home, checkout and `.shipyard/`
hidden, `/tmp` private; the CLI's own private home and its install folder are shown (the home
writable). The sandbox has its own network namespace with nothing but loopback: a small forwarder
(`gateway/forward.py`, run by Shipyard's Python) listens there on `INNER_PORT` and passes each
connection to the gateway's unix socket, bound into the sandbox. Processes, address space and file
sizes are limited as for every command; a pids cgroup counts every process when Shipyard runs as root.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shipyard.agent import cgroup
from shipyard.agent.mount import View, git_layout, mount_args
from shipyard.agent.sandbox import MB, Confinement, person_home, python_paths
from shipyard.gateway import forward

INNER_PORT = 8087  # the forwarder's port on the sandbox's own loopback
_NAMESPACES = ("--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try")
_JOIN = 'echo $$ > "$0" && exec "$@"'  # joins the pids cgroup, then becomes bwrap


@dataclass(frozen=True)
class Confined:
    """A CLI command line wrapped in its sandbox, and the pids cgroup to remove when it has ended."""

    argv: list[str]
    cgroup: Path | None = None

    def close(self) -> None:
        if self.cgroup is not None:
            cgroup.remove(self.cgroup)


class CliSandbox(Confinement):
    """Wraps CLI command lines in bubblewrap under a project's `[sandbox]` policy."""

    def wrap(
        self, argv: Sequence[str], worktree: Path, home: Path, socket: Path, shown: Sequence[Path] = ()
    ) -> Confined:
        """`argv` (the CLI, run in `worktree`) inside the sandbox, reaching the gateway at `socket`;
        `shown`: more folders to show read-only (the activated virtualenv)."""
        script = home / "forward.py"
        shutil.copyfile(forward.__file__, script)
        inner = [sys.executable, "-I", str(script), str(socket), str(INNER_PORT), "--", *argv]
        group = self._cgroup()
        shown = [install_folder(Path(argv[0])), *shown]
        args = [self.host.bwrap, *self._flags(), *self._mounts(shown, worktree, home, socket)]
        args += ["--", self.host.prlimit, *self._limits(), "--", *inner]
        if group is None:
            return Confined(args)
        return Confined(["/bin/sh", "-c", _JOIN, str(group / "cgroup.procs"), *args], group)

    def _flags(self) -> list[str]:
        flags = ["--die-with-parent", "--new-session", *_NAMESPACES, "--unshare-net", "--cap-drop", "ALL"]
        return flags + (["--disable-userns"] if self.host.modern else [])

    def _mounts(self, shown: Sequence[Path], worktree: Path, home: Path, socket: Path) -> list[str]:
        p = self.policy
        view = View(
            home=person_home(),
            exposed=[*python_paths(), *shown, *map(Path, p.extra_ro_paths)],
            hidden=[Path(h) for h in p.hidden_paths],
            tmp_bytes=p.tmp_mb * MB if self.host.modern else 0,
        )
        args = mount_args(git_layout(worktree), view)
        return [*args, "--bind", str(home), str(home), "--bind", str(socket.parent), str(socket.parent)]


def install_folder(binary: Path) -> Path:
    """What a CLI needs of its installation: the `node_modules` folder it lives in, else its folder."""
    real = binary.resolve()
    for folder in real.parents:
        if folder.name == "node_modules":
            return folder
    return real.parent
