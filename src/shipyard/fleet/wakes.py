"""Which planners to wake: a planner wakes when every task under it has ended, with their handoffs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from shipyard.domain import Task

_SUB_PREFIX = "subplanner-"


def _ancestors(task: Task, by_id: dict[int, Task]) -> list[str]:
    """The planners above a task: its own planner, then the planners of the plan tasks above it."""
    chain, planner = [], task.spec.planner
    for _ in range(64):
        chain.append(planner)
        if not planner.startswith(_SUB_PREFIX):
            break
        parent = by_id.get(int(planner.removeprefix(_SUB_PREFIX)))
        if parent is None:
            break
        planner = parent.spec.planner
    return chain


class WakeTracker:
    """Pure bookkeeping: handoffs seen, planners running, wakes used per planner."""

    def __init__(self, max_wakes: int, seen: Iterable[int] = ()) -> None:
        self._max = max_wakes
        self._seen: set[int] = set(seen)
        self._wakes: Counter[str] = Counter()
        self._running: Counter[str] = Counter()

    def started(self, planner: str) -> None:
        self._running[planner] += 1

    def ended(self, planner: str) -> None:
        self._running[planner] -= 1

    def due(self, tasks: Iterable[Task]) -> list[tuple[str, list[Task]]]:
        """Planners whose whole subtree has ended and who have unseen handoffs; marks them seen."""
        tasks = list(tasks)
        by_id = {t.id: t for t in tasks}
        busy = {p for t in tasks if not t.is_final for p in _ancestors(t, by_id)}
        busy |= {p for p, n in self._running.items() if n > 0}
        fresh: dict[str, list[Task]] = {}
        for t in tasks:
            if t.is_final and t.id not in self._seen:
                fresh.setdefault(t.spec.planner, []).append(t)
        out = []
        for planner, ended in fresh.items():
            if planner in busy:
                continue
            self._seen.update(t.id for t in ended)
            if self._wakes[planner] < self._max:
                self._wakes[planner] += 1
                out.append((planner, ended))
        return out
