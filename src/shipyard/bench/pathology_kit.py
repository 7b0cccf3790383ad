"""What the pathology scenarios share: a small fleet on a fresh repository, scripted roles, the row."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.board.sqlite import SqliteBoard
from shipyard.config import ShipyardConfig
from shipyard.domain import Event, Role, Task
from shipyard.fleet.run import Fleet
from shipyard.fleet.runtime import HARNESS, STATE_DIR, Runtime
from shipyard.git import init_repo
from shipyard.models.base import Model, ModelRequest, ModelResponse
from shipyard.models.scripted import ScriptedModel, call, turn

Program = Callable[[ModelRequest], ModelResponse]


@dataclass(frozen=True)
class PathologyRow:
    """One pathology: whether the harness noticed it, whether it kept it from doing harm, how fast, and
    what work it cost."""

    pathology: str
    detected: bool
    contained: bool
    time_to_contain_s: float | None
    work_lost: str
    signal: str


def fleet(
    root: Path, models: Mapping[Role, Model], files: Mapping[str, str] | None = None, **cfg: Any
) -> Runtime:
    """A runtime on a new repository at `root` (holding `files`), with a fast lease and stall check."""
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    repo = init_repo(root, "main", HARNESS, "start")
    fleet_cfg = {"lease_s": 2.0, "max_attempts": 2, "planner_wakes": 1, **cfg.pop("fleet", {})}
    config = ShipyardConfig.model_validate({"goal": "pathology", "max_cycles": 1, "fleet": fleet_cfg, **cfg})
    board = SqliteBoard(root / STATE_DIR / "board.sqlite")
    return Runtime(config=config, repo=repo, board=board, models=dict(models))


def run(rt: Runtime) -> tuple[list[Event], list[Task]]:
    """Run the fleet to its end; the event log and the tasks it left (the board is closed after)."""
    try:
        asyncio.run(Fleet(rt).run())
        return rt.board.events(), rt.board.tasks()
    finally:
        rt.board.close()


def steps(req: ModelRequest) -> int:
    """Tool results so far in this agent's conversation."""
    return sum(1 for m in req.messages if m.role == "tool")


def user_text(req: ModelRequest) -> str:
    return "\n".join(m.content for m in req.messages if m.role == "user")


def task_title(req: ModelRequest) -> str:
    """A worker's task title (the prompt's first line is `# Task: TITLE`)."""
    return user_text(req).split("\n", 1)[0].removeprefix("# Task: ")


def planner(*tasks: dict[str, Any]) -> Program:
    """Writes `tasks` on its first fresh round, then only finishes."""

    def play(req: ModelRequest) -> ModelResponse:
        if steps(req) == 0 and "(none: fresh start)" in user_text(req) and "first cycle" in user_text(req):
            calls = [
                call("create_task", f"c{n}", **{"description": "d", "acceptance": "a", **t})
                for n, t in enumerate(tasks)
            ]
            return turn(*calls)
        return turn(call("finish", summary="planned"))

    return play


def scripted(planner_program: Program, worker: Program) -> dict[Role, Model]:
    """Every role on one scripted model: this planner, this worker, a judge that says stop."""
    verdict = turn(call("verdict", decision="stop", notes="the tasks are done"))
    model = ScriptedModel(
        {Role.JUDGE: [verdict] * 4}, programs={Role.PLANNER: planner_program, Role.WORKER: worker}
    )
    return {role: model for role in Role}


def write_then_finish(path: str, content: str) -> list[ModelResponse]:
    return [
        turn(call("write_file", path=path, content=content)),
        turn(call("finish", summary=f"wrote {path}")),
    ]


def first(events: Iterable[Event], kind: str, task_id: int | None = None) -> Event | None:
    return next((e for e in events if e.kind == kind and (task_id is None or e.task_id == task_id)), None)


def last(events: Iterable[Event], kind: str, task_id: int | None = None) -> Event | None:
    found = None
    for e in events:
        if e.kind == kind and (task_id is None or e.task_id == task_id):
            found = e
    return found


def span(start: Event | None, end: Event | None) -> float | None:
    """Seconds from `start` to `end`, when both happened."""
    return None if start is None or end is None else round(max(0.0, end.ts - start.ts), 3)
