"""The head side of a remote worker without a cluster: a fake actor around a real `NodeSlot`. A result
lands only while the board still gives the task to its slot; a stale attempt's commit is dropped."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_node import _job, _ship, _writer

from cli_helpers import git, make_repo
from shipyard.board.sqlite import SqliteBoard
from shipyard.cluster.actor import NodeInfo
from shipyard.cluster.node import NodeSlot
from shipyard.cluster.remote import RemoteRunner, RemoteSeat
from shipyard.cluster.slots import Slot
from shipyard.config import ShipyardConfig
from shipyard.domain import Handoff, TaskKind, TaskSpec
from shipyard.fleet.merger import Merger
from shipyard.fleet.runtime import Runtime
from shipyard.git import GitRepo


class _Method:
    """`actor.method.remote(...)` as Ray spells it, run in this process."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn

    def remote(self, *args: Any) -> Any:
        async def call() -> Any:
            result = self._fn(*args)
            return await result if inspect.isawaitable(result) else result

        return call()


class _Actor:
    def __init__(self, slot: NodeSlot) -> None:
        for name in ("commit", "merge", "markers", "drain", "close"):
            setattr(self, name, _Method(getattr(slot, name)))


def _land_as(tmp_path: Path, agent: str) -> tuple[bool, Runtime, str]:
    """Worker-1 worked on the task on a node; the board now gives it to `holder` worker-2."""
    head = make_repo(tmp_path / "head")
    start = git(head, "rev-parse", "main").strip()
    board = SqliteBoard(head / ".shipyard" / "board.sqlite")
    rt = Runtime(ShipyardConfig(), GitRepo.open(head), board, {})
    board.add_task(TaskSpec(title="task 1"))
    task = board.claim("worker-1", TaskKind.CODE, 600)
    assert task is not None
    board.release(task.id, "worker-1", "its lease ran out", 3)
    assert board.claim("worker-2", TaskKind.CODE, 600) is not None

    slot = NodeSlot(tmp_path / "nodes", "n1", "s1", _writer("a.txt", "wrote a.txt"))
    slot.mirror.receive(_ship(head, start, []))
    slot.open(_job(head, start))
    asyncio.run(slot.session(""))
    seat = RemoteSeat(agent, task, Slot(_Actor(slot), NodeInfo("n1", "127.0.0.3", "node", 1)))

    async def land() -> bool:
        runner = RemoteRunner(rt, Merger(rt, lambda _sha: None), pool=None)  # type: ignore[arg-type]
        landed, _ = await runner._commit_and_land(seat, Handoff(summary="wrote a.txt"))
        return landed

    try:
        return asyncio.run(land()), rt, start
    finally:
        slot.release()


def test_a_stale_attempts_commit_is_dropped_not_merged(tmp_path: Path) -> None:
    landed, rt, start = _land_as(tmp_path, "worker-1")
    assert not landed
    kinds = [e.kind for e in rt.board.events()]
    assert "ResultStale" in kinds and "CommitMerged" not in kinds
    assert rt.repo.rev_parse("main") == start
    assert rt.board.get(1).lease_holder == "worker-2", "the current attempt keeps the task"


def test_the_holders_commit_lands(tmp_path: Path) -> None:
    landed, rt, start = _land_as(tmp_path, "worker-2")
    assert landed
    assert "CommitMerged" in [e.kind for e in rt.board.events()]
    assert rt.repo.rev_parse("main") != start
    assert (rt.repo.root / "a.txt").exists()
