"""A remote worker without Ray: the head's `RemoteRunner` drives real `NodeSlot`s (each node a folder of
its own, with its own mirror) through a fake actor that sends every argument and answer through pickle,
as Ray would, and a fake pool of such slots (the runner's real `Shipper` ships them code)."""

from __future__ import annotations

import asyncio
import inspect
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ray.exceptions import RayActorError

from cli_helpers import make_repo
from shipyard.board.sqlite import SqliteBoard
from shipyard.cluster.actor import NodeInfo
from shipyard.cluster.node import NodeSlot
from shipyard.cluster.remote import RemoteRunner
from shipyard.cluster.slots import Slot
from shipyard.config import ShipyardConfig
from shipyard.domain import Role, TaskKind, TaskSpec
from shipyard.fleet.merger import Merger
from shipyard.fleet.runtime import Runtime
from shipyard.git import GitRepo
from shipyard.models.base import Model, ModelRequest, ModelResponse
from shipyard.models.scripted import ScriptedModel

Program = Callable[[ModelRequest], ModelResponse]


class _Method:
    """`actor.method.remote(...)` as Ray spells it, run in this process. As on Ray, the caller's cancel
    does not stop the node's work (only killing the actor does)."""

    def __init__(self, actor: FakeActor, fn: Callable[..., Any]) -> None:
        self._actor = actor
        self._fn = fn

    def remote(self, *args: Any) -> Any:
        async def call() -> Any:
            if self._actor.killed:
                raise RayActorError()
            result = self._fn(*pickle.loads(pickle.dumps(args)))
            if inspect.isawaitable(result):
                work = asyncio.ensure_future(result)
                self._actor.running.add(work)
                work.add_done_callback(self._actor.running.discard)
                result = await asyncio.shield(work)
            return pickle.loads(pickle.dumps(result))

        return call()


class FakeActor:
    def __init__(self, slot: NodeSlot) -> None:
        self.slot = slot
        self.killed = False  # a killed actor answers nothing more (`RayActorError`)
        self.running: set[asyncio.Future[Any]] = set()

    def __getattr__(self, name: str) -> _Method:
        if name in ("has", "receive"):  # the node's mirror, as `SlotActor` answers for it
            return _Method(self, getattr(self.slot.mirror, name))
        return _Method(self, getattr(self.slot, name))

    def kill(self) -> None:
        self.killed = True
        for work in list(self.running):
            work.cancel()


class FakePool:
    """Each `acquire` opens a slot on the next of `nodes` (the last one again when they run out)."""

    def __init__(self, base: Path, program: Program, nodes: tuple[str, ...] = ("n1",)) -> None:
        self.base = base
        self.program = program
        self.nodes = nodes
        self.slots: list[NodeSlot] = []
        self.released: list[str] = []
        self.lost_keys: list[str] = []
        self.killed: list[str] = []
        self.failed_starts = 0  # as `SlotPool` counts actors that could not start

    def _models(self, _config: ShipyardConfig, _fatal: Callable[[str], None]) -> Mapping[Role, Model]:
        return {Role.WORKER: ScriptedModel(programs={Role.WORKER: self.program})}

    async def acquire(self) -> Slot:
        node = self.nodes[min(len(self.slots), len(self.nodes) - 1)]
        slot = NodeSlot(self.base, node, f"s{len(self.slots)}", self._models)
        self.slots.append(slot)
        return Slot(FakeActor(slot), NodeInfo(node, "127.0.0.3", node, 1))

    def release(self, slot: Slot) -> None:
        self.released.append(slot.info.key)

    def lost(self, slot: Slot, kill: bool = False) -> None:
        self.lost_keys.append(slot.info.key)
        if kill:
            slot.actor.kill()
            self.killed.append(slot.info.key)

    def close(self) -> None:
        for slot in self.slots:
            slot.release()

    @property
    def worktree(self) -> Path:
        """The worktree of the slot opened last."""
        return self.slots[-1].worktree


def head(tmp_path: Path, board: type[SqliteBoard] = SqliteBoard, **config: Any) -> Runtime:
    """The head: a repository on `main` with its board, one task on it."""
    root = make_repo(tmp_path / "head")
    settings = {"models": {"default": "sim"}, "sandbox": {"enabled": False}, **config}
    rt = Runtime(
        ShipyardConfig.model_validate(settings), GitRepo.open(root), board(root / ".shipyard" / "b.db"), {}
    )
    rt.board.add_task(TaskSpec(title="task 1", description="the task"))
    return rt


async def start_attempt(rt: Runtime, pool: FakePool, agent: str) -> RemoteRunner:
    """`agent` claims the task and works one attempt on the pool's next slot; the runner, for its figures."""
    task = rt.board.claim(agent, TaskKind.CODE, 600)
    assert task is not None
    runner = RemoteRunner(rt, Merger(rt, lambda _sha: None), pool)  # type: ignore[arg-type]
    await runner(agent, task)
    return runner


def run_attempt(rt: Runtime, pool: FakePool, agent: str) -> RemoteRunner:
    return asyncio.run(start_attempt(rt, pool, agent))


def user_prompt(req: ModelRequest) -> str:
    return next(m.content for m in req.messages if m.role == "user")


def steps(req: ModelRequest) -> int:
    return sum(m.role == "tool" for m in req.messages)
