"""Scope holds: a sub-planner writes tasks only inside the area it was handed, and one planner's
delegations do not overlap. Paths are compared as relative POSIX paths, a folder holding what is under it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

from shipyard.domain import Task, TaskKind, TaskStatus
from shipyard.errors import ToolError


def normal(path: str) -> str:
    """`path` as a plain relative path: no `./`, no trailing `/`; "" for the whole repository."""
    parts = [p for p in PurePosixPath(path.strip().replace("\\", "/")).parts if p not in (".", "/")]
    if ".." in parts:
        raise ToolError(f"scope path `{path}` leaves the repository; give paths inside it")
    return "/".join(parts)


def inside(path: str, area: str) -> bool:
    """Whether `path` is `area` or under it (`area` "" is the whole repository)."""
    return not area or path == area or path.startswith(area + "/")


def overlaps(a: str, b: str) -> bool:
    return inside(a, b) or inside(b, a)


def check_within(scope: Sequence[str], area: Sequence[str]) -> None:
    """A sub-planner's task must name its paths, each inside the area it was handed."""
    bounds = [normal(p) for p in area]
    if not scope:
        raise ToolError(f"give a `scope`: your tasks must stay inside your area ({', '.join(area)})")
    outside = [p for p in scope if not any(inside(normal(p), b) for b in bounds)]
    if outside:
        raise ToolError(
            f"scope {', '.join(outside)} is outside your area ({', '.join(area)}); write tasks only "
            "inside it and report what lies outside in your finish summary"
        )


def check_disjoint(scope: Sequence[str], delegations: Iterable[Task]) -> None:
    """A new delegation must not overlap one the same planner already handed out (and not given up)."""
    new = [normal(p) for p in scope]
    for task in delegations:
        if task.spec.kind is not TaskKind.PLAN or task.status in (TaskStatus.CANCELLED, TaskStatus.FAILED):
            continue
        clash = [p for p in new for q in task.spec.scope if overlaps(p, normal(q))]
        if clash:
            raise ToolError(
                f"scope {', '.join(clash)} overlaps your delegation #{task.id} ({task.title}: "
                f"{', '.join(task.spec.scope)}); delegate disjoint areas"
            )
