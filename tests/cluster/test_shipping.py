"""Code to the nodes off the tasks' critical path: a task starts from its node's newest commit of the
shared branch while that was the tip a moment ago, and the new tip follows in the background; a node
that fell behind waits for the tip; a commit the node already holds sends nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fakenode import FakeActor

from cli_helpers import git, make_repo
from shipyard.cluster import shipping
from shipyard.cluster.actor import NodeInfo
from shipyard.cluster.node import NodeSlot
from shipyard.cluster.shipping import Shipper
from shipyard.cluster.slots import Slot
from shipyard.git import GitRepo


def _commit(repo: Path, name: str) -> str:
    (repo / name).write_text(f"{name}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", name)
    return git(repo, "rev-parse", "HEAD").strip()


def _slot(tmp_path: Path) -> tuple[Slot, NodeSlot]:
    node = NodeSlot(tmp_path / "nodes", "n1", "s1", lambda _c, _f: {})
    return Slot(FakeActor(node), NodeInfo("n1", "127.0.0.3", "node", 1)), node


def test_a_task_starts_from_the_nodes_fresh_tip_while_the_new_one_follows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shipping, "FOLLOW_S", 0.0)  # the new tip follows at once
    head = make_repo(tmp_path / "head")
    repo, (slot, node) = GitRepo.open(head), _slot(tmp_path)
    first = git(head, "rev-parse", "main").strip()

    async def run() -> tuple[float, str, str]:
        shipper = Shipper()
        assert shipper.start_for(repo, slot, first) == first, "a node that holds nothing waits for the tip"
        await shipper.ensure(repo, slot, first)
        second = _commit(head, "b.txt")
        start = shipper.start_for(repo, slot, second)  # `first` was the tip a moment ago
        waited = await shipper.ensure(repo, slot, start)
        follower = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        await asyncio.gather(*follower)
        shipper.close()
        return waited, start, second

    try:
        waited, start, second = asyncio.run(run())
        assert start == first and waited == 0.0, "the task did not wait for code"
        assert node.mirror.has(second), "the new tip reached the node in the background"
    finally:
        node.release()


def test_a_node_that_fell_behind_waits_for_the_tip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shipping, "FRESH_S", 0.0)  # every superseded tip is stale at once
    head = make_repo(tmp_path / "head")
    repo, (slot, node) = GitRepo.open(head), _slot(tmp_path)
    first = git(head, "rev-parse", "main").strip()

    async def run() -> str:
        shipper = Shipper()
        await shipper.ensure(repo, slot, shipper.start_for(repo, slot, first))
        second = _commit(head, "b.txt")
        start = shipper.start_for(repo, slot, second)
        await shipper.ensure(repo, slot, start)
        shipper.close()
        return start

    try:
        start = asyncio.run(run())
        assert start == git(head, "rev-parse", "main").strip() != first
        assert node.mirror.has(start)
    finally:
        node.release()


def test_a_commit_the_node_holds_through_its_last_shipment_sends_nothing(tmp_path: Path) -> None:
    head = make_repo(tmp_path / "head")
    repo, (slot, node) = GitRepo.open(head), _slot(tmp_path)
    first = git(head, "rev-parse", "main").strip()
    second = _commit(head, "b.txt")

    async def run() -> Shipper:
        shipper = Shipper()
        await shipper.ensure(repo, slot, second)
        await shipper.ensure(repo, slot, first)  # an ancestor of what was sent: git refuses an empty bundle
        shipper.close()
        return shipper

    try:
        shipper = asyncio.run(run())
        assert [s.size > 0 for s in shipper.sent] == [True], "one shipment, then nothing to send"
        assert node.mirror.has(first)
    finally:
        node.release()


def test_a_tip_follows_only_once_the_nodes_start_lags_by_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = make_repo(tmp_path / "head")
    repo, (slot, node) = GitRepo.open(head), _slot(tmp_path)
    first = git(head, "rev-parse", "main").strip()
    clock = [100.0]
    monkeypatch.setattr(shipping.time, "monotonic", lambda: clock[0])

    async def run() -> tuple[list[str], int]:
        shipper = Shipper()
        await shipper.ensure(repo, slot, shipper.start_for(repo, slot, first))
        second = _commit(head, "b.txt")
        starts = [shipper.start_for(repo, slot, second)]  # `first` was superseded just now: no shipment
        await asyncio.sleep(0)
        shipped_early = len(shipper.sent)
        clock[0] += shipping.FOLLOW_S
        starts.append(shipper.start_for(repo, slot, second))  # lagging for FOLLOW_S: `second` follows
        await asyncio.gather(*[t for t in asyncio.all_tasks() if t is not asyncio.current_task()])
        shipper.close()
        return starts, shipped_early

    try:
        starts, shipped_early = asyncio.run(run())
        assert starts == [first, first] and shipped_early == 1, "only the first contact was shipped"
        assert node.mirror.has(git(head, "rev-parse", "main").strip()), "then the new tip followed"
    finally:
        node.release()
