"""What a benchmark row measures: wall time, the process's CPU time, peak memory, percentiles."""

from __future__ import annotations

import math
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shipyard.git.placement import spread_subfolders


def count(n: int, noun: str) -> str:
    """`1 worker`, `3 workers`."""
    return f"{n} {noun}{'s' * (n != 1)}"


def quiet(_line: str) -> None:
    """A progress callback that tells nobody (the default of every runner)."""


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MiB (it never goes down within a process)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def scratch_folder(root: Path, prefix: str) -> Path:
    """A new empty folder under `root` for one measured run, in a block group of its own where the file
    system can do that (see `shipyard.git.placement`).

    On some file systems (ext4 without a journal, as on this project's reference machine) creating a
    file skips every inode of its block group freed in the last minutes: each run would pay for the
    files that the previous rows, or unrelated work such as a test suite, deleted near it. So runs are
    spread apart, and the benchmark removes `root` only when every row is measured.
    """
    spread_subfolders(root)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root))


def filesystem(path: Path) -> str:
    """The type of the file system `path` is on ("ext4", "tmpfs", ...), from /proc/mounts; "?" if unknown.

    Git's cost per task is mostly the kernel creating files, which differs by file system many times over.
    """
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return "?"
    target, best, kind = path.resolve(), -1, "?"
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = Path(fields[1].replace("\\040", " "))
        if (target == point or point in target.parents) and len(point.parts) > best:
            best, kind = len(point.parts), fields[2]
    return kind


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) by the nearest-rank method; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Span:
    """Wall and CPU seconds of one measured stretch, and the peak memory after it."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float


class Stopwatch:
    """Starts on creation; `stop()` gives the wall and process CPU time since then."""

    def __init__(self) -> None:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()

    def stop(self) -> Span:
        wall = time.perf_counter() - self._wall
        return Span(wall, time.process_time() - self._cpu, peak_rss_mb())


def rate(count: int, seconds: float) -> float:
    """`count` per second, 0.0 when no time passed."""
    return count / seconds if seconds > 0 else 0.0
