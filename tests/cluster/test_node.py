"""A worker slot's node side without Ray: code arrives as a bundle, the agent works in the slot's own
worktree, the commit goes back as a bundle the head can fetch and merge; conflicts get the new tip."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from cli_helpers import git, make_repo
from shipyard.agent import StopReason
from shipyard.cluster.node import NodeCommit, NodeJob, NodeSlot, Shipment
from shipyard.config import ShipyardConfig
from shipyard.domain import Role, Task, TaskSpec
from shipyard.git.bundle import create_bundle, set_ref, store_bundle
from shipyard.models.base import Model, ModelRequest, ModelResponse
from shipyard.models.scripted import ScriptedModel, call, turn

SECRET = "sk-node-secret-0123456789abcdef0123"


def _writer(
    path: str, summary: str
) -> Callable[[ShipyardConfig, Callable[[str], None]], Mapping[Role, Model]]:
    def worker(req: ModelRequest) -> ModelResponse:
        if not any(m.role == "tool" for m in req.messages):
            return turn(call("write_file", path=path, content=f"{path} by {req.agent}\n"))
        return turn(call("finish", summary=summary))

    return lambda _config, _fatal: {Role.WORKER: ScriptedModel(programs={Role.WORKER: worker})}


def _ship(head: Path, sha: str, since: list[str]) -> Shipment:
    """What the head sends a node: `sha` and what it lacks."""
    return Shipment(sha, create_bundle(head, sha, since))


def _land(head: Path, back: Shipment) -> None:
    """What the head does with a node's bundle (strictly checked), then a branch on it for the test."""
    assert store_bundle(head, back.data, strict=True) == back.sha
    set_ref(head, "refs/heads/incoming", back.sha)


def _job(head: Path, start: str, task_id: int = 1) -> NodeJob:
    config = ShipyardConfig.model_validate({"models": {"default": "sim"}, "sandbox": {"enabled": False}})
    task = Task(task_id, TaskSpec(title=f"task {task_id}"))
    prompts = {"worker.md": "custom worker prompt $title\n---user---\n$title"}
    return NodeJob(config, task, "worker-1", start, prompts)


def test_a_task_goes_out_and_its_commit_comes_back_as_bundles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    head = make_repo(tmp_path / "head")
    start = git(head, "rev-parse", "main").strip()
    slot = NodeSlot(tmp_path / "nodes", "n1", "s1", _writer("a.txt", f"done, key {SECRET}"))
    slot.mirror.receive(_ship(head, start, []))
    assert slot.mirror.has(start)

    assert slot.open(_job(head, start)) == 0, "no NOTES.md yet"
    end = asyncio.run(slot.session(""))
    assert end.outcome.stop_reason is StopReason.FINISHED and end.fatal == ""
    events = list(end.events)  # the session's end brings the events the head has not drained yet
    kinds = ["AgentStarted", "ModelCalled", "ToolCalled", "ModelCalled", "ToolCalled", "AgentFinished"]
    assert [e.kind for e in events] == kinds
    assert {e.task_id for e in events} == {1} and slot.drain() == []
    assert "custom worker prompt task 1" in events[0].data["system"], "prompt overrides travel with the job"

    back = slot.commit(f"task 1\n\ndone, key {SECRET}\n", None).shipment
    assert back is not None
    _land(head, back)
    assert git(head, "rev-parse", "incoming").strip() == back.sha
    assert git(head, "show", "incoming:a.txt") == "a.txt by worker-1\n"
    assert git(head, "rev-parse", "incoming^").strip() == start
    message = git(head, "log", "-1", "--format=%B", "incoming")
    assert SECRET not in message, "the node's own keys never reach the history"
    again = slot.commit("nothing new", None).shipment
    assert again is not None and again.sha == back.sha, "work not merged yet is still work to merge"
    slot.open(_job(head, start, task_id=2))  # the head does not close a task: the next one clears it
    assert git(slot.repo.root, "branch", "--list", "shipyard/worker-1-task-1") == ""
    assert not (slot.worktree / "a.txt").exists()
    assert slot.commit("no change", None) == NodeCommit(), "a task that changed nothing sends nothing back"
    slot.close()
    slot.release()


def test_a_conflict_round_gets_the_new_tip_and_sends_back_the_resolution(tmp_path: Path) -> None:
    head = make_repo(tmp_path / "head")
    start = git(head, "rev-parse", "main").strip()
    slot = NodeSlot(tmp_path / "nodes", "n1", "s1", _writer("same.txt", "wrote it"))
    slot.mirror.receive(_ship(head, start, []))
    slot.open(_job(head, start))
    asyncio.run(slot.session(""))
    first = slot.commit("mine", None).shipment
    assert first is not None
    (head / "same.txt").write_text("theirs\n")
    git(head, "add", "-A")
    git(head, "commit", "-q", "-m", "theirs")
    tip = git(head, "rev-parse", "main").strip()

    shipment = _ship(head, tip, [start])  # only what the node lacks
    slot.mirror.receive(shipment)
    assert slot.merge(tip) == ("same.txt",)
    (slot.worktree / "same.txt").write_text("both\n")
    assert slot.markers(("same.txt",)) == ()
    resolved = slot.commit("resolved", tip).shipment
    assert resolved is not None
    _land(head, resolved)
    parents = git(head, "rev-list", "--parents", "-1", "incoming").split()[1:]
    assert sorted(parents) == sorted([first.sha, tip])
    assert git(head, "show", "incoming:same.txt") == "both\n"
    slot.release()


def test_a_new_slot_sweeps_the_folders_of_slots_whose_process_died(tmp_path: Path) -> None:
    models = _writer("a.txt", "s")
    alive = NodeSlot(tmp_path / "nodes", "n1", "alive", models)
    dead = NodeSlot(tmp_path / "nodes", "n1", "dead", models)
    (dead.dir / "leftover").write_text("x")
    dead.release()  # what the kernel does when its process dies
    NodeSlot(tmp_path / "nodes", "n1", "new", models).release()
    slots = sorted(p.name for p in (tmp_path / "nodes" / "n1" / "slots").iterdir())
    assert slots == ["alive", "alive.lock", "new", "new.lock"]
    assert alive.dir.exists()
    alive.release()


def _leave_a_mess(worktree: Path) -> None:
    """What an agent may leave: a changed file whose size and times match the old ones, an untracked and
    an ignored file, a staged deletion."""
    readme = worktree / "README.md"
    before = readme.stat()
    readme.write_text("# TARGET\n")  # the same size
    os.utime(readme, ns=(before.st_atime_ns, before.st_mtime_ns))
    (worktree / "new.txt").write_text("untracked\n")
    (worktree / "build.log").write_text("ignored\n")
    git(worktree, "rm", "-q", "keep.txt")


def test_the_next_task_starts_from_exactly_its_commit_whatever_the_last_one_left(tmp_path: Path) -> None:
    head = make_repo(tmp_path / "head")
    (head / ".gitignore").write_text("*.log\n")
    (head / "keep.txt").write_text("kept\n")
    (head / "same.txt").write_text("untouched\n")
    git(head, "add", "-A")
    git(head, "commit", "-q", "-m", "more")
    start = git(head, "rev-parse", "main").strip()
    slot = NodeSlot(tmp_path / "nodes", "n1", "s1", _writer("a.txt", "s"))
    slot.mirror.receive(_ship(head, start, []))
    try:
        slot.open(_job(head, start))
        untouched = (slot.worktree / "same.txt").stat().st_ino
        _leave_a_mess(slot.worktree)

        slot.open(_job(head, start, task_id=2))
        wt = slot.worktree
        assert git(wt, "status", "--porcelain", "--ignored") == "", "nothing untracked, ignored or changed"
        assert (wt / "README.md").read_text() == "# target\n" and (wt / "keep.txt").read_text() == "kept\n"
        assert (wt / "same.txt").stat().st_ino == untouched, "reused: same.txt was not rewritten"

        (wt / "sub").mkdir()
        git(wt / "sub", "init", "-q")  # a nested repository: git must not work in this folder again
        slot.open(_job(head, start, task_id=3))
        assert not (wt / "sub").exists() and git(wt, "status", "--porcelain", "--ignored") == ""
        assert git(wt, "rev-parse", "HEAD").strip() == start

        pointer = (wt / ".git").read_text()
        decoy = tmp_path / "decoy"  # a repository of the worker's making, which holds `start` too
        git(tmp_path, "clone", "-q", str(head), str(decoy))
        index = (decoy / ".git" / "index").read_bytes()
        (wt / ".git").write_text(f"gitdir: {decoy / '.git'}\n")  # a CLI's own sandbox lets it write here
        slot.open(_job(head, start, task_id=4))
        assert (wt / ".git").read_text() == pointer, "made afresh: git never followed the planted pointer"
        assert git(wt, "rev-parse", "HEAD").strip() == start
        assert (decoy / ".git" / "index").read_bytes() == index, "git never wrote the decoy's index"
        assert not (decoy / ".git" / "ORIG_HEAD").exists()
    finally:
        slot.release()
