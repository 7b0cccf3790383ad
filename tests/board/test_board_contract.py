"""The contract every `Board` passes: the in-memory fake and the SQLite board alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.board.base import Board, Completion
from shipyard.board.memory import InMemoryBoard
from shipyard.board.sqlite import SqliteBoard
from shipyard.domain import Event, Handoff, TaskKind, TaskSpec, TaskStatus
from shipyard.errors import BoardError
from shipyard.redact import Redactor

CODE = TaskKind.CODE
PLAN = TaskKind.PLAN


@pytest.fixture(params=["memory", "sqlite"])
def board(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Board]:
    made: Board = InMemoryBoard() if request.param == "memory" else SqliteBoard(tmp_path / "board.db")
    yield made
    made.close()


def add(board: Board, title: str, priority: int = 0, kind: TaskKind = CODE) -> int:
    return board.add_task(TaskSpec(title=title, priority=priority, kind=kind)).id


def kinds(board: Board, task_id: int | None = None) -> list[str]:
    return [e.kind for e in board.events() if task_id is None or e.task_id == task_id]


def test_create_get_and_list(board: Board) -> None:
    spec = TaskSpec(
        title="parse",
        description="write the parser",
        acceptance="tests pass",
        scope=("src/parse.py", "tests/"),
        priority=3,
        kind=PLAN,
        planner="root",
        parent_id=None,
        depth=1,
        cycle=2,
    )
    first = board.add_task(spec)
    second_id = add(board, "lex")
    assert first.status is TaskStatus.OPEN
    assert first.attempts == 0
    assert board.get(first.id).spec == spec
    assert [t.id for t in board.tasks()] == [first.id, second_id]
    assert [t.title for t in board.tasks(TaskStatus.OPEN)] == ["parse", "lex"]
    assert board.tasks(TaskStatus.DONE) == []
    created = board.events()[0]
    assert (created.kind, created.task_id, created.agent) == ("TaskCreated", first.id, "root")
    assert created.data["title"] == "parse"


def test_get_unknown_task_names_the_id(board: Board) -> None:
    with pytest.raises(BoardError, match="no task 42"):
        board.get(42)


def test_claim_takes_highest_priority_then_lowest_id(board: Board) -> None:
    low = add(board, "low", priority=0)
    high_a = add(board, "high a", priority=5)
    high_b = add(board, "high b", priority=5)
    mid = add(board, "mid", priority=2)
    claimed = [board.claim("w", CODE, lease_s=60, now=100) for _ in range(4)]
    assert [t.id for t in claimed if t] == [high_a, high_b, mid, low]
    assert board.claim("w", CODE, lease_s=60) is None


def test_claim_returns_none_when_empty_and_only_claims_its_kind(board: Board) -> None:
    assert board.claim("w1", CODE, lease_s=60) is None
    plan = add(board, "plan the parser", kind=PLAN)
    assert board.claim("w1", CODE, lease_s=60) is None
    task = board.claim("p1", PLAN, lease_s=60, now=100)
    assert task is not None
    assert task.id == plan
    assert (task.status, task.lease_holder, task.lease_expires, task.attempts) == (
        TaskStatus.CLAIMED,
        "p1",
        160,
        1,
    )
    event = board.events()[-1]
    assert (event.kind, event.task_id, event.agent, event.ts) == ("TaskClaimed", plan, "p1", 100)
    assert event.data == {"attempt": 1, "lease_expires": 160}


def test_attempts_are_counted_per_claim(board: Board) -> None:
    task_id = add(board, "flaky")
    for attempt in (1, 2, 3):
        task = board.claim("w", CODE, lease_s=60)
        assert task is not None
        assert task.attempts == attempt
        board.release(task_id, "w", f"try {attempt} failed", max_attempts=5)
    assert board.get(task_id).attempts == 3
    assert board.get(task_id).status is TaskStatus.OPEN


def test_heartbeat_extends_the_lease_without_an_event(board: Board) -> None:
    task_id = add(board, "t")
    board.claim("w1", CODE, lease_s=10, now=100)
    before = len(board.events())
    board.heartbeat(task_id, "w1", lease_s=30, now=105)
    assert board.get(task_id).lease_expires == 135
    assert len(board.events()) == before


def test_heartbeat_by_non_holder_fails_naming_task_and_holder(board: Board) -> None:
    task_id = add(board, "t")
    board.claim("w1", CODE, lease_s=10, now=100)
    with pytest.raises(BoardError, match=rf"task {task_id} is held by w1, not w2"):
        board.heartbeat(task_id, "w2", lease_s=30, now=105)
    assert board.get(task_id).lease_expires == 110
    unclaimed = add(board, "unclaimed")
    with pytest.raises(BoardError, match=rf"task {unclaimed} is open; w1 holds no lease"):
        board.heartbeat(unclaimed, "w1", lease_s=30)


def test_land_refuses_a_cancelled_task_and_completes_held_ones_with_the_swap(board: Board) -> None:
    a, b = add(board, "a"), add(board, "b")
    board.claim("w1", CODE, lease_s=60)
    board.claim("w2", CODE, lease_s=60)
    said = Handoff("did it")
    both = [Completion(a, "w1", ("sha-a",), said), Completion(b, "w2", ("sha-b",), said)]
    swaps: list[str] = []
    board.cancel(a, "by the person")
    landed = board.land(both, lambda: bool(swaps.append("moved")), [Event("CommitMerged", {"sha": "x"})])
    assert landed.refused == (a,) and not landed.events and swaps == []
    assert board.get(b).status is TaskStatus.CLAIMED
    lost = board.land(both[1:], lambda: False)  # the swap lost to another update: nothing is completed
    assert lost.refused == () and not lost.events and board.get(b).status is TaskStatus.CLAIMED
    merged = Event("CommitMerged", {"sha": "sha-b"}, b, "w2")
    done = board.land(both[1:], lambda: True, [merged])
    assert [e.kind for e in done.events] == ["CommitMerged", "TaskCompleted"]
    assert board.get(b).status is TaskStatus.DONE and board.get(b).commits == ("sha-b",)
    assert kinds(board, b)[-2:] == ["CommitMerged", "TaskCompleted"]


def test_complete_records_commits_handoff_and_event(board: Board) -> None:
    task_id = add(board, "t")
    board.claim("w1", CODE, lease_s=60)
    handoff = Handoff(summary="added parser", concerns="slow", deviations="none")
    with pytest.raises(BoardError, match="held by w1, not w2"):
        board.complete(task_id, "w2", ["abc"], handoff)
    done = board.complete(task_id, "w1", ["abc123", "def456"], handoff)
    assert done == board.get(task_id)
    assert (done.status, done.commits, done.handoff) == (TaskStatus.DONE, ("abc123", "def456"), handoff)
    assert (done.lease_holder, done.lease_expires) == (None, None)
    event = board.events()[-1]
    assert (event.kind, event.task_id, event.agent) == ("TaskCompleted", task_id, "w1")
    assert event.data["commits"] == ["abc123", "def456"]
    assert event.data["handoff"] == handoff.as_dict()
    with pytest.raises(BoardError, match=rf"task {task_id} is done"):
        board.complete(task_id, "w1", [], handoff)


def test_release_returns_the_task_to_open(board: Board) -> None:
    task_id = add(board, "t")
    board.claim("w1", CODE, lease_s=60)
    handoff = Handoff(summary="got stuck on the lexer")
    with pytest.raises(BoardError, match="held by w1, not w2"):
        board.release(task_id, "w2", "not mine", max_attempts=3)
    task = board.release(task_id, "w1", "merge conflict", max_attempts=3, handoff=handoff)
    assert (task.status, task.lease_holder, task.lease_expires) == (TaskStatus.OPEN, None, None)
    assert task.attempts == 1
    assert task.handoff == handoff
    assert any("merge conflict" in note for note in task.notes)
    event = board.events()[-1]
    assert (event.kind, event.agent) == ("TaskReleased", "w1")
    assert event.data["reason"] == "merge conflict"
    assert event.data["status"] == "open"
    again = board.claim("w2", CODE, lease_s=60)
    assert again is not None
    assert again.id == task_id


def test_release_fails_the_task_at_max_attempts(board: Board) -> None:
    task_id = add(board, "t")
    board.claim("w1", CODE, lease_s=60)
    board.release(task_id, "w1", "first", max_attempts=2)
    board.claim("w2", CODE, lease_s=60)
    task = board.release(task_id, "w2", "tests keep failing", max_attempts=2)
    assert task.status is TaskStatus.FAILED
    assert task.attempts == 2
    assert [n for n in task.notes if "first" in n or "tests keep failing" in n] == list(task.notes)
    assert len(task.notes) == 2
    assert kinds(board, task_id)[-2:] == ["TaskReleased", "TaskFailed"]
    assert board.events()[-2].data["status"] == "failed"
    assert board.claim("w3", CODE, lease_s=60) is None


def test_expire_leases_reopens_or_fails_expired_tasks(board: Board) -> None:
    short = add(board, "short lease")
    long = add(board, "long lease")
    last_try = add(board, "last try")
    assert board.claim("w1", CODE, lease_s=10, now=100) is not None
    assert board.claim("w2", CODE, lease_s=100, now=100) is not None
    assert board.claim("w3", CODE, lease_s=10, now=100) is not None
    board.heartbeat(last_try, "w3", lease_s=5, now=100)
    assert board.expire_leases(max_attempts=3, now=104) == []
    expired = board.expire_leases(max_attempts=1, now=110)
    assert [t.id for t in expired] == [short, last_try]
    assert [t.status for t in expired] == [TaskStatus.FAILED, TaskStatus.FAILED]
    assert board.get(long).status is TaskStatus.CLAIMED
    lease_events = [e for e in board.events() if e.kind == "LeaseExpired"]
    assert [(e.task_id, e.agent, e.ts) for e in lease_events] == [(short, "w1", 110), (last_try, "w3", 110)]
    assert any("lease of w1 expired" in note for note in board.get(short).notes)
    with pytest.raises(BoardError, match=rf"task {short} is failed"):
        board.heartbeat(short, "w1", lease_s=10)


def test_expired_lease_goes_back_to_open_below_max_attempts(board: Board) -> None:
    task_id = add(board, "t")
    board.claim("w1", CODE, lease_s=10, now=100)
    [task] = board.expire_leases(max_attempts=3, now=200)
    assert (task.status, task.lease_holder, task.attempts) == (TaskStatus.OPEN, None, 1)
    assert kinds(board, task_id)[-1] == "LeaseExpired"
    with pytest.raises(BoardError, match=rf"task {task_id} is open; w1 holds no lease"):
        board.complete(task_id, "w1", [], Handoff(summary="late"))


def test_cancel_and_fail_work_on_tasks_that_are_not_final(board: Board) -> None:
    open_id, claimed_id, done_id = add(board, "a"), add(board, "b"), add(board, "c")
    board.claim("w1", CODE, lease_s=60)
    board.claim("w2", CODE, lease_s=60)
    board.claim("w3", CODE, lease_s=60)
    board.complete(done_id, "w3", ["c0ffee"], Handoff(summary="done"))
    board.release(open_id, "w1", "later", max_attempts=5)
    assert board.cancel(open_id, "goal changed").status is TaskStatus.CANCELLED
    handoff = Handoff(summary="gave up")
    failed = board.fail(claimed_id, "judge said no", handoff=handoff)
    assert (failed.status, failed.lease_holder, failed.handoff) == (TaskStatus.FAILED, None, handoff)
    assert any("judge said no" in note for note in failed.notes)
    assert kinds(board)[-2:] == ["TaskCancelled", "TaskFailed"]
    for task_id, status in ((open_id, "cancelled"), (claimed_id, "failed"), (done_id, "done")):
        with pytest.raises(BoardError, match=rf"task {task_id}: it is already {status}"):
            board.cancel(task_id, "again")
        with pytest.raises(BoardError, match=rf"task {task_id}: it is already {status}"):
            board.fail(task_id, "again")


def test_cancel_a_claimed_task_drops_its_lease(board: Board) -> None:
    task_id = add(board, "t")
    board.claim("w1", CODE, lease_s=60)
    task = board.cancel(task_id, "duplicate")
    assert (task.status, task.lease_holder) == (TaskStatus.CANCELLED, None)
    assert board.events()[-1].data == {"reason": "duplicate", "holder": "w1"}
    with pytest.raises(BoardError, match=rf"task {task_id} is cancelled"):
        board.heartbeat(task_id, "w1", lease_s=60)


def test_counts_has_every_status(board: Board) -> None:
    assert board.counts() == {"open": 0, "claimed": 0, "done": 0, "failed": 0, "cancelled": 0}
    ids = [add(board, f"t{i}") for i in range(5)]
    for _ in range(3):
        board.claim("w", CODE, lease_s=60)
    board.complete(ids[0], "w", [], Handoff(summary="ok"))
    board.fail(ids[1], "broken")
    board.cancel(ids[3], "not needed")
    assert board.counts() == {"open": 1, "claimed": 1, "done": 1, "failed": 1, "cancelled": 1}


def test_events_since_and_limit_in_order(board: Board) -> None:
    appended = [board.append(Event("NoteWritten", {"n": i, "tags": ["x"]}, agent="p")) for i in range(5)]
    assert [e.id for e in appended] == sorted({e.id for e in appended})
    assert all(e.ts > 0 for e in appended)
    assert board.append(Event("Stamped", ts=42.5)).ts == 42.5
    events = board.events()
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert events[:5] == appended
    assert [e.data["n"] for e in board.events(since=appended[1].id)[:3]] == [2, 3, 4]
    assert [e.data["n"] for e in board.events(since=appended[0].id, limit=2)] == [1, 2]
    assert board.events(since=events[-1].id) == []
    assert board.events(limit=0) == []


def test_event_data_must_be_json(board: Board) -> None:
    with pytest.raises(BoardError, match="JSON"):
        board.append(Event("Odd", {"when": object()}))
    assert board.events() == []


def test_meta(board: Board) -> None:
    assert board.get_meta("state") is None
    board.set_meta("state", "planning")
    board.set_meta("cycle", "1")
    board.set_meta("state", "working")
    assert (board.get_meta("state"), board.get_meta("cycle")) == ("working", "1")


def test_set_priority_changes_claim_order_and_is_an_event(board: Board) -> None:
    first, second = add(board, "first", priority=1), add(board, "second", priority=1)
    task = board.set_priority(second, 9)
    assert task.spec.priority == 9 and board.get(second).spec.priority == 9
    event = board.events()[-1]
    assert (event.kind, event.task_id, event.data) == (
        "TaskReprioritised",
        second,
        {"priority": 9, "previous": 1},
    )
    claimed = board.claim("w", CODE, lease_s=60)
    assert claimed is not None and claimed.id == second
    board.complete(second, "w", [], Handoff(summary="ok"))
    with pytest.raises(BoardError, match=rf"cannot reprioritise task {second}: it is already done"):
        board.set_priority(second, 3)
    assert board.set_priority(first, -2).spec.priority == -2


SECRET = "sk-test-contract0123456789abcdef"


@pytest.fixture(params=["memory", "sqlite"])
def redacting(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Board]:
    redact = Redactor((SECRET,))
    made: Board = (
        InMemoryBoard(redact) if request.param == "memory" else SqliteBoard(tmp_path / "b.db", redact)
    )
    yield made
    made.close()


def test_free_text_is_redacted_before_it_is_stored(redacting: Board) -> None:
    board = redacting
    spec = TaskSpec(title=f"use {SECRET}", description=f"key {SECRET}", acceptance=SECRET)
    done, released, failed, cancelled = (board.add_task(spec).id for _ in range(4))
    for _ in range(3):
        board.claim("w", CODE, lease_s=60)
    board.complete(done, "w", ["abc"], Handoff(summary=f"echoed {SECRET}", concerns=SECRET))
    board.release(released, "w", f"because {SECRET}", max_attempts=3, handoff=Handoff(summary=SECRET))
    board.fail(failed, f"failed {SECRET}", Handoff(summary=SECRET))
    board.cancel(cancelled, f"cancel {SECRET}")
    board.append(Event("ToolCalled", {"args": {"command": f"echo {SECRET}"}, "out": [SECRET]}))
    board.set_meta("reason", f"the judge said {SECRET}")
    stored = repr(board.tasks()) + repr(board.events()) + (board.get_meta("reason") or "")
    assert SECRET not in stored
    assert stored.count("[REDACTED]") >= 12
    assert board.get(done).handoff == Handoff(summary="echoed [REDACTED]", concerns="[REDACTED]")
