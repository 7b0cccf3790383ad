"""The `coordination` scenario: Shipyard's own scheduler and SQLite board driving simulated workers, no git.

Each task is claimed by the real `WorkPhase` from a real `SqliteBoard`; its worker thinks for the sim
model's think time and completes it on the board. What is measured is what orchestration costs as the
fleet grows: throughput against the ideal (`efficiency`), the orchestrator's CPU per task, peak memory.
"""

from __future__ import annotations

import asyncio
import heapq
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shipyard.bench.measure import Span, Stopwatch, count, quiet, rate
from shipyard.board.sqlite import SqliteBoard
from shipyard.config import ShipyardConfig
from shipyard.domain import Handoff, Task, TaskSpec, TaskStatus
from shipyard.errors import ShipyardError
from shipyard.fleet.merger import Merger
from shipyard.fleet.runtime import Runtime
from shipyard.fleet.scheduler import WorkPhase
from shipyard.git import GitRepo
from shipyard.models.sim import SimWorkload


class BenchError(ShipyardError):
    """A benchmark run ended in a state that makes its figures meaningless."""


@dataclass(frozen=True)
class CoordinationRow:
    agents: int
    tasks: int
    think_ms: float
    tasks_per_s: float
    efficiency: float
    cpu_ms_per_task: float
    peak_rss_mb: float
    schedule_bound: float


def bench_config(agents: int, **extra: Any) -> ShipyardConfig:
    """A fleet of `agents` workers with planner wake-ups off: the bench pre-writes every task."""
    fleet = {"planner_wakes": 0, "lease_s": 3600.0, **extra.pop("fleet", {})}
    raw = {"goal": "benchmark", "workers": agents, "models": {"default": "sim"}, "fleet": fleet, **extra}
    return ShipyardConfig.model_validate(raw)


def add_tasks(board: SqliteBoard, w: SimWorkload) -> dict[int, int]:
    """Write the workload's tasks on the board as a planner would; returns task id -> workload index."""
    ids = {}
    for i in range(w.tasks):
        args = w.task_args(i)
        spec = TaskSpec(
            title=args["title"],
            description=args["description"],
            acceptance=args["acceptance"],
            scope=tuple(args["scope"]),
        )
        ids[board.add_task(spec).id] = i
    return ids


async def board_fleet(root: Path, agents: int, w: SimWorkload) -> Span:
    """Run `w.tasks` simulated tasks through the scheduler and board with `agents` workers; time it."""
    board = SqliteBoard(root / "board.sqlite")
    try:
        ids = add_tasks(board, w)
        rt = Runtime(config=bench_config(agents), repo=GitRepo(root, root / ".git"), board=board, models={})

        async def runner(slot: str, task: Task) -> None:
            await asyncio.sleep(w.think_s(ids[task.id]))
            rt.board.complete(task.id, slot, [], Handoff(summary="simulated"))

        phase = WorkPhase(rt, Merger(rt, _ignore), 1, _nothing, runner=runner, plan_root=False)
        watch = Stopwatch()
        await phase.run()
        span = watch.stop()
        done = board.counts()[TaskStatus.DONE.value]
        if done != w.tasks:
            raise BenchError(f"coordination with {count(agents, 'agent')}: {done} of {w.tasks} tasks done")
        return span
    finally:
        board.close()


def _ignore(_sha: str) -> None:
    """No health check in the benchmarks."""


def _nothing() -> None:
    """No budget in the benchmarks."""


def task_count(agents: int, per_agent: int, minimum: int) -> int:
    return max(minimum, per_agent * agents)


def run_coordination(
    sizes: Sequence[int], w: SimWorkload, per_agent: int, minimum: int, on_row: Callable[[str], None] = quiet
) -> list[CoordinationRow]:
    """One row per fleet size; the first size must be 1, the reference for `efficiency`. Each row is
    told to `on_row` as soon as it is measured."""
    rows: list[CoordinationRow] = []
    reference = _with_tasks(w, task_count(sizes[0], per_agent, minimum)) if sizes else w
    for agents in sizes:
        load = _with_tasks(w, task_count(agents, per_agent, minimum))
        with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as tmp:
            span = asyncio.run(board_fleet(Path(tmp), agents, load))
        per_s = rate(load.tasks, span.wall_s)
        one = rows[0].tasks_per_s if rows else per_s
        rows.append(
            CoordinationRow(
                agents=agents,
                tasks=load.tasks,
                think_ms=w.think_ms,
                tasks_per_s=round(per_s, 2),
                efficiency=round(per_s / (agents * one), 3) if one else 0.0,
                cpu_ms_per_task=round(1000 * span.cpu_s / load.tasks, 3),
                peak_rss_mb=round(span.peak_rss_mb, 1),
                schedule_bound=round(schedule_bound(load, agents, reference), 3),
            )
        )
        row = rows[-1]
        measured = f"{row.tasks_per_s:g} tasks/s, efficiency {row.efficiency:g}"
        on_row(f"coordination, {count(agents, 'worker')}: {measured}")
    return rows


def schedule_bound(w: SimWorkload, agents: int, reference: SimWorkload) -> float:
    """The efficiency a zero-cost orchestrator would reach on these think times (computed, not measured).

    Agents take tasks in board order the moment they are free; what is lost is the tail, when the last
    tasks run and the other agents have no work left. `reference` is the one-agent run.
    """
    free = [0.0] * agents
    for i in range(w.tasks):
        heapq.heapreplace(free, free[0] + w.think_s(i))
    one = reference.tasks / sum(reference.think_s(i) for i in range(reference.tasks))
    return (w.tasks / max(free)) / (agents * one)


def _with_tasks(w: SimWorkload, tasks: int) -> SimWorkload:
    return SimWorkload(**{**asdict(w), "tasks": tasks})
