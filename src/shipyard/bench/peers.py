"""Designs that failed, rebuilt in the simulator: peers coordinating through one shared status file.

Every task costs the same think time as in Shipyard's own runs, but here the agent spends part of it on
coordination turns: reading the status file and choosing a task, then reporting it done (each turn
`DECIDE_SHARE` of the task's think time). The two designs differ in how the file is guarded:

- `locks`: a lock is held during each coordination turn, and in `FORGOT_SHARE` of tasks the agent holds
  it through the whole task (locks "held too long or forgotten", as published).
- `flat_occ`: no lock and no hierarchy; a write succeeds only if the file has not changed since the agent
  read it, otherwise the agent reads again and spends another coordination turn deciding.

The status file is real JSON on disk, read and written on every turn. The two shares are assumptions of
the model, stated here and in the README; the published collapse (20 agents doing the work of 2-3) is
what they are compared against.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.bench.measure import Stopwatch
from shipyard.models.sim import SimWorkload

DECIDE_SHARE = 0.1
FORGOT_SHARE = 0.3

Peer = Callable[[str], Coroutine[Any, Any, int]]
Choice = Callable[[dict[str, Any]], int | None]


@dataclass(frozen=True)
class PeerRun:
    tasks_done: int
    wall_s: float
    retries: int


class StatusFile:
    """The shared status file: task states and a version that every write bumps."""

    def __init__(self, path: Path, tasks: int) -> None:
        self.path = path
        self._write({"version": 0, "tasks": ["open"] * tasks})

    def read(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.write_text(json.dumps(data), encoding="utf-8")

    def update(self, data: dict[str, Any], index: int, state: str) -> None:
        """Set one task's state and bump the version (the caller decided it may write)."""
        data["tasks"][index] = state
        data["version"] += 1
        self._write(data)


def _this(i: int) -> Choice:
    """A choice that is always task `i` (reporting one's own task done)."""
    return lambda _data: i


def _first_open(data: dict[str, Any]) -> int | None:
    states: list[str] = data["tasks"]
    return next((i for i, s in enumerate(states) if s == "open"), None)


async def locks(root: Path, agents: int, w: SimWorkload) -> PeerRun:
    """Peers take one lock for every turn on the status file; some hold it through their whole task."""
    status, lock, rng = StatusFile(root / "status.json", w.tasks), asyncio.Lock(), random.Random(w.seed)

    async def peer(name: str) -> int:
        done = 0
        while True:
            async with lock:
                data = status.read()
                i = _first_open(data)
                if i is None:
                    return done
                await asyncio.sleep(DECIDE_SHARE * w.think_s(i))  # choosing, with the lock held
                status.update(data, i, f"claimed by {name}")
                if rng.random() < FORGOT_SHARE:  # forgot to release: the lock stays through the task
                    await _work_and_report(status, i, w)
                    done += 1
                    continue
            await asyncio.sleep((1 - 2 * DECIDE_SHARE) * w.think_s(i))
            async with lock:
                await _report(status, i, w)
            done += 1

    return await _run_peers(peer, agents, lambda: 0)


async def _work_and_report(status: StatusFile, i: int, w: SimWorkload) -> None:
    await asyncio.sleep((1 - 2 * DECIDE_SHARE) * w.think_s(i))
    await _report(status, i, w)


async def _report(status: StatusFile, i: int, w: SimWorkload) -> None:
    await asyncio.sleep(DECIDE_SHARE * w.think_s(i))  # writing the report is a turn too
    status.update(status.read(), i, "done")


class _Optimistic:
    """Turns on the status file without a lock: a turn counts only if nobody wrote meanwhile."""

    def __init__(self, status: StatusFile, w: SimWorkload) -> None:
        self.status, self.w, self.retries = status, w, 0

    async def turn(self, choose: Choice) -> int | None:
        """Read, decide for a turn's time, and succeed if nothing changed; else read and decide again."""
        while True:
            data = self.status.read()
            i = choose(data)
            if i is None:
                return None
            await asyncio.sleep(DECIDE_SHARE * self.w.think_s(i))
            if self.status.read()["version"] == data["version"]:
                return i  # no await from here to the write: the check and the write are one step
            self.retries += 1


async def flat_occ(root: Path, agents: int, w: SimWorkload) -> PeerRun:
    """Peers write the status file optimistically: a write fails, and the turn is redone, if it changed."""
    status = StatusFile(root / "status.json", w.tasks)
    occ = _Optimistic(status, w)

    async def peer(name: str) -> int:
        done = 0
        while (i := await occ.turn(_first_open)) is not None:
            status.update(status.read(), i, f"claimed by {name}")
            await asyncio.sleep((1 - 2 * DECIDE_SHARE) * w.think_s(i))
            await occ.turn(_this(i))
            status.update(status.read(), i, "done")
            done += 1
        return done

    return await _run_peers(peer, agents, lambda: occ.retries)


async def _run_peers(peer: Peer, agents: int, retries: Callable[[], int]) -> PeerRun:
    watch = Stopwatch()
    counts = await asyncio.gather(*(peer(f"peer-{k + 1}") for k in range(agents)))
    span = watch.stop()
    return PeerRun(sum(counts), span.wall_s, retries())
