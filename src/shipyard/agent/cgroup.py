"""A pids cgroup per sandboxed command when Shipyard runs as root: the kernel does not enforce
RLIMIT_NPROC for root, so only a cgroup stops a fork bomb there. Other users get RLIMIT_NPROC instead."""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path

PARENT = "shipyard"
_counter = itertools.count(1)
_leftovers: list[Path] = []


def _mounts() -> list[tuple[str, str, str, str]]:
    """(mount point, cgroup root, fs type, super options) of every cgroup mount."""
    found = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
                found.append((fields[4], fields[3], tail[0], tail[2]))
    return found


def _own_path(v1_controller: str | None) -> str | None:
    """This process's cgroup in the v1 hierarchy of `v1_controller`, or in the v2 one when None."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if (v1_controller is None and controllers == "") or (
                v1_controller is not None and v1_controller in controllers.split(",")
            ):
                return path
    return None


def _folder(mount: str, root: str, own: str) -> Path | None:
    if not own.startswith(root):
        return None
    return Path(mount) / own.removeprefix(root).lstrip("/")


def _candidate() -> tuple[Path, bool] | None:
    """The cgroup folder to put command cgroups under and whether it is cgroup v2."""
    for mount, root, fstype, options in _mounts():
        if fstype == "cgroup" and "pids" in options.split(","):
            own = _own_path("pids")
            folder = None if own is None else _folder(mount, root, own)
            if folder is not None:
                return folder, False
    for mount, root, fstype, _ in _mounts():
        own = _own_path(None) if fstype == "cgroup2" else None
        folder = None if own is None else _folder(mount, root, own)
        if folder is not None and "pids" in _read(folder / "cgroup.subtree_control").split():
            return folder, True
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def pids_parent() -> Path | None:
    """A writable folder for per-command pids cgroups (made on first use), or None where there is none."""
    found = _candidate()
    if found is None:
        return None
    folder, v2 = found
    parent = folder / PARENT
    try:
        parent.mkdir(exist_ok=True)
        if v2:
            (parent / "cgroup.subtree_control").write_text("+pids")
        probe = make(parent, 1)
    except OSError:
        return None
    remove(probe)
    _sweep(parent)
    return parent


def make(parent: Path, max_pids: int) -> Path:
    """A fresh cgroup under `parent` allowing `max_pids` tasks; join it by writing to `cgroup.procs`."""
    for stale in list(_leftovers):
        remove(stale)
    path = parent / f"{os.getpid()}-{next(_counter)}"
    path.mkdir()
    (path / "pids.max").write_text(str(max_pids))
    return path


def remove(path: Path) -> None:
    """Remove a command's cgroup; one still busy is kept and tried again later."""
    try:
        path.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        if path not in _leftovers:
            _leftovers.append(path)
        return
    if path in _leftovers:
        _leftovers.remove(path)


def _sweep(parent: Path) -> None:
    """Remove cgroups that Shipyard processes which have since ended left behind."""
    for child in parent.iterdir():
        owner = child.name.partition("-")[0]
        if child.is_dir() and owner.isdigit() and not Path(f"/proc/{owner}").exists():
            with contextlib.suppress(OSError):
                child.rmdir()
