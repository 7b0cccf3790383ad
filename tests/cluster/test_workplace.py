"""The `Workplace` contract, which the worker's rounds rely on: the local worktree and a slot on a node
(a real `NodeSlot` behind the fake actor) answer alike, and what they commit or keep is in the head's
repository."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from fakenode import FakePool, head, steps

from cli_helpers import git
from shipyard.agent import StopReason
from shipyard.cluster.remote import RemoteWorkplace
from shipyard.cluster.shipping import Shipper
from shipyard.domain import Role, TaskKind
from shipyard.fleet.rounds import Workplace
from shipyard.fleet.runtime import HARNESS, Runtime
from shipyard.fleet.worker import LocalWorkplace
from shipyard.git.attempt import Snapshot, attempt_ref
from shipyard.models.base import ModelRequest, ModelResponse
from shipyard.models.scripted import ScriptedModel, call, turn

NOTES = "# Notes\n- a.txt holds the greeting\n"
Opened = Callable[[Runtime], AbstractAsyncContextManager[tuple[Workplace, Path]]]


def _program(req: ModelRequest) -> ModelResponse:
    if steps(req) == 0:
        return turn(call("write_file", path="a.txt", content="hello from the worker\n"))
    if steps(req) == 1:
        return turn(call("write_file", path="NOTES.md", content=NOTES))
    return turn(call("finish", summary="greeted"))


@asynccontextmanager
async def _local(rt: Runtime) -> AsyncIterator[tuple[Workplace, Path]]:
    rt.models = {Role.WORKER: ScriptedModel(programs={Role.WORKER: _program})}
    task = rt.board.get(1)
    start = rt.repo.rev_parse("main") or "main"
    place = LocalWorkplace(rt, "worker-1", task, rt.worktree_path("w1"), "shipyard/w1", start)
    rt.repo.add_worktree(place.worktree, place.branch, start)
    try:
        yield place, place.worktree
    finally:
        rt.repo.remove_worktree(place.worktree, place.branch)


@asynccontextmanager
async def _remote(rt: Runtime) -> AsyncIterator[tuple[Workplace, Path]]:
    pool = FakePool(rt.repo.root.parent / "nodes", _program)
    slot = await pool.acquire()
    place = RemoteWorkplace(rt, Shipper(), slot, "worker-1", rt.board.get(1), [])
    try:
        await place.open(rt.repo.rev_parse("main") or "main", {})
        yield place, pool.worktree
        assert {way for way, _, _ in place.transport} == {"out", "back"}
    finally:
        pool.slots[-1].close()
        pool.close()


@pytest.mark.parametrize("opened", [_local, _remote], ids=["local", "remote"])
def test_a_workplace_works_commits_merges_and_keeps_into_the_heads_repository(
    tmp_path: Path, opened: Opened
) -> None:
    rt = head(tmp_path)
    assert rt.board.claim("worker-1", TaskKind.CODE, 600) is not None
    root = rt.repo.root

    async def contract() -> None:
        async with opened(rt) as (place, worktree):
            assert await place.notes_chars() == 0
            assert (await place.session("")).stop_reason is StopReason.FINISHED
            assert await place.notes_chars() == len(NOTES)
            first = (await place.commit("greet\n", None)).sha
            assert first is not None and git(root, "show", f"{first}:a.txt") == "hello from the worker\n"
            assert (await place.commit("again\n", None)).sha == first, "unlanded work is still to land"

            (root / "a.txt").write_text("landed meanwhile\n")
            git(root, "add", "a.txt")
            git(root, "commit", "-qm", "landed meanwhile")
            files, tip = await place.merge_latest()
            assert files == ("a.txt",) and tip == rt.repo.rev_parse("main")
            assert await place.markers(("a.txt",)) == ("a.txt",)

            snap = Snapshot(attempt_ref(1, 1), "kept\n\nShipyard-Attempt: 1/1\n", HARNESS, "main")
            kept = await place.keep(snap)
            assert kept is not None and rt.repo.rev_parse(snap.ref) == kept
            assert "<<<<<<< " in git(root, "show", f"{kept}:a.txt"), "the worktree as it was"
            assert await place.keep(snap) == kept, "a kept attempt is never overwritten"

            (worktree / "a.txt").write_text("both\n")
            assert await place.markers(("a.txt",)) == ()
            resolved = (await place.commit("resolved\n", tip)).sha
            assert resolved is not None and git(root, "show", f"{resolved}:a.txt") == "both\n"
            parents = git(root, "rev-list", "--parents", "-1", resolved).split()[1:]
            assert sorted(parents) == sorted([first, tip])

            (worktree / "inner").mkdir()
            (worktree / "inner" / ".git").write_text("gitdir: /elsewhere\n")
            refused = await place.commit("nested\n", None)
            assert refused.sha is None and "nested git repository (inner/.git)" in refused.refused

    asyncio.run(contract())
