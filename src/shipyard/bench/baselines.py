"""The `baselines` scenario: the same workload run by designs others tried, beside Shipyard's own.

`locks` and `flat_occ` (see `peers`) are compared with `shipyard`: the real scheduler and SQLite board
with the same think times. `push_retry` (see `pushretry`) is compared with `shipyard_git`: the full git
path of the `git` scenario (worktrees, commits, the batching merger) with the same think times.
`effective_agents` is a design's throughput over its own throughput with one agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shipyard.bench.coordination import board_fleet
from shipyard.bench.gitpath import git_fleet
from shipyard.bench.measure import count, quiet, rate, scratch_folder
from shipyard.bench.peers import PeerRun, flat_occ, locks
from shipyard.bench.pushretry import push_retry
from shipyard.models.sim import SimWorkload

Design = Callable[[Path, int, SimWorkload], Coroutine[Any, Any, PeerRun]]

BASELINES: dict[str, tuple[Design, str]] = {
    "locks": (locks, "shipyard"),
    "flat_occ": (flat_occ, "shipyard"),
    "push_retry": (push_retry, "shipyard_git"),
}


@dataclass(frozen=True)
class BaselineRow:
    design: str
    agents: int
    tasks: int
    think_ms: float
    tasks_per_s: float
    effective_agents: float
    retries_per_task: float
    vs: str
    shipyard_ratio: float | None


async def _shipyard(root: Path, agents: int, w: SimWorkload) -> PeerRun:
    span = await board_fleet(root, agents, w)
    return PeerRun(w.tasks, span.wall_s, 0)


async def _shipyard_git(root: Path, agents: int, w: SimWorkload) -> PeerRun:
    span, found = await git_fleet(root, agents, w)
    return PeerRun(found.merged, span.wall_s, found.retries + found.conflicts)


SHIPYARD: dict[str, Design] = {"shipyard": _shipyard, "shipyard_git": _shipyard_git}


def _measure(design: Design, agents: int, w: SimWorkload, scratch: Path) -> PeerRun:
    return asyncio.run(design(scratch_folder(scratch, "peers-"), agents, w))


@dataclass(frozen=True)
class BaselinePlan:
    """What to run: fleet sizes (1 is added: the reference), designs, workloads, tasks per agent."""

    sizes: Sequence[int]
    designs: Sequence[str]
    simulated: SimWorkload
    git: SimWorkload
    per_agent: int
    scratch: Path  # where each run's repositories go (see `scratch_folder`)


def run_baselines(plan: BaselinePlan, on_row: Callable[[str], None] = quiet) -> list[BaselineRow]:
    """Shipyard's comparators first, then each baseline, at every size; ratios on the same size. Each
    row is told to `on_row` as soon as it is measured."""
    sizes = sorted({1, *plan.sizes})
    wanted = [d for d in BASELINES if d in plan.designs]
    names = [*dict.fromkeys(BASELINES[d][1] for d in wanted), *wanted]
    rows: list[BaselineRow] = []
    for name in names:
        design = SHIPYARD[name] if name in SHIPYARD else BASELINES[name][0]
        load = plan.git if name in ("push_retry", "shipyard_git") else plan.simulated
        for agents in sizes:
            w = replace(load, tasks=max(plan.per_agent * agents, 2 * plan.per_agent), hot_share=0.0)
            rows.append(_row(name, agents, w, _measure(design, agents, w, plan.scratch), rows))
            on_row(f"baselines {name}, {count(agents, 'agent')}: {rows[-1].tasks_per_s:g} tasks/s")
    return rows


def _row(name: str, agents: int, w: SimWorkload, run: PeerRun, rows: list[BaselineRow]) -> BaselineRow:
    per_s = rate(run.tasks_done, run.wall_s)
    one = next((r.tasks_per_s for r in rows if r.design == name and r.agents == 1), per_s)
    vs = BASELINES[name][1] if name in BASELINES else ""
    ours = next((r.tasks_per_s for r in rows if r.design == vs and r.agents == agents), None)
    return BaselineRow(
        design=name,
        agents=agents,
        tasks=w.tasks,
        think_ms=w.think_ms,
        tasks_per_s=round(per_s, 2),
        effective_agents=round(per_s / one, 2) if one else 0.0,
        retries_per_task=round(run.retries / max(1, run.tasks_done), 2),
        vs=vs,
        shipyard_ratio=round(ours / per_s, 2) if ours is not None and per_s else None,
    )
