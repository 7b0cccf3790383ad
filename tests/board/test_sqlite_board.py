"""What only the SQLite board promises: durability, WAL, exactly-once claims across threads and processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier as ProcessBarrier
from pathlib import Path

import pytest

from shipyard.board.sqlite import SqliteBoard
from shipyard.domain import Handoff, TaskKind, TaskSpec, TaskStatus
from shipyard.errors import BoardError

TASKS = 200
THREADS = 8
PROCESSES = 2


def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    board = SqliteBoard(path)
    first = board.add_task(TaskSpec(title="a", scope=("src/",), priority=2))
    board.add_task(TaskSpec(title="b"))
    board.claim("w1", TaskKind.CODE, lease_s=60, now=100)
    board.complete(first.id, "w1", ["abc"], Handoff(summary="did a"))
    board.set_meta("goal", "ship it")
    tasks, events = board.tasks(), board.events()
    board.close()

    reopened = SqliteBoard(path)
    assert reopened.tasks() == tasks
    assert reopened.events() == events
    assert reopened.get_meta("goal") == "ship it"
    assert reopened.add_task(TaskSpec(title="c")).id == 3
    assert reopened.get(first.id).handoff == Handoff(summary="did a")
    reopened.close()


def test_wal_mode_and_parent_folder_created(tmp_path: Path) -> None:
    path = tmp_path / "run" / ".shipyard" / "board.db"
    SqliteBoard(path).close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_event_log_is_append_only(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    board = SqliteBoard(path)
    board.add_task(TaskSpec(title="a"))
    raw = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("DELETE FROM events")
    raw.close()
    assert len(board.events()) == 1
    board.close()


def test_a_file_that_is_not_a_board_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    path.write_text("not a database, just text " * 100)
    with pytest.raises(BoardError, match=str(path)):
        SqliteBoard(path)


def test_closed_board_raises_board_error(tmp_path: Path) -> None:
    board = SqliteBoard(tmp_path / "board.db")
    board.close()
    with pytest.raises(BoardError):
        board.tasks()


def claim_all(board: SqliteBoard, agent: str) -> list[int]:
    """Claim until the board has no open task left; the ids in claim order."""
    claimed = []
    while (task := board.claim(agent, TaskKind.CODE, lease_s=600)) is not None:
        claimed.append(task.id)
    return claimed


def claim_in_process(path: Path, agent: str, start: ProcessBarrier, out: Queue[list[int]]) -> None:
    """Child process: open its own board on the shared file, wait for the start, claim everything it can."""
    board = SqliteBoard(path)
    start.wait(timeout=30)
    out.put(claim_all(board, agent))
    board.close()


def claim_from_threads_and_processes(board: SqliteBoard) -> list[list[int]]:
    """Claim everything at once from threads sharing `board` and from processes with their own board."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES + 1)
    out: Queue[list[int]] = ctx.Queue()
    args = [(board.path, f"proc{i}", start, out) for i in range(PROCESSES)]
    procs = [ctx.Process(target=claim_in_process, args=a) for a in args]
    for proc in procs:
        proc.start()
    results: list[list[int]] = []
    thread_start = threading.Barrier(THREADS)

    def worker(agent: str) -> None:
        thread_start.wait(timeout=30)
        results.append(claim_all(board, agent))

    threads = [threading.Thread(target=worker, args=(f"thread{i}",)) for i in range(THREADS)]
    start.wait(timeout=30)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.extend(out.get(timeout=30) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    return results


def test_every_task_is_claimed_exactly_once_across_threads_and_processes(tmp_path: Path) -> None:
    board = SqliteBoard(tmp_path / "board.db")
    for i in range(TASKS):
        board.add_task(TaskSpec(title=f"t{i}", priority=i % 7))
    results = claim_from_threads_and_processes(board)

    claimed = [task_id for ids in results for task_id in ids]
    tasks = board.tasks()
    assert len(claimed) == TASKS
    assert set(claimed) == {t.id for t in tasks}
    assert board.counts()["claimed"] == TASKS
    assert all(t.status is TaskStatus.CLAIMED and t.attempts == 1 for t in tasks)
    claim_events = [e for e in board.events() if e.kind == "TaskClaimed"]
    assert len(claim_events) == TASKS
    assert {e.task_id: e.agent for e in claim_events} == {t.id: t.lease_holder for t in tasks}
    in_claim_order = sorted(tasks, key=lambda t: (-t.spec.priority, t.id))
    assert [e.task_id for e in claim_events] == [t.id for t in in_claim_order]
    board.close()


def open_and_add(path: Path, title: str, start: ProcessBarrier) -> None:
    """Child process: open a board on a file that may not exist yet, at the same moment as the others."""
    start.wait(timeout=30)
    board = SqliteBoard(path)
    board.add_task(TaskSpec(title=title))
    board.close()


def test_processes_can_open_a_new_board_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "new" / "board.db"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    procs = [ctx.Process(target=open_and_add, args=(path, f"t{i}", start)) for i in range(PROCESSES)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    board = SqliteBoard(path)
    assert sorted(t.title for t in board.tasks()) == [f"t{i}" for i in range(PROCESSES)]
    assert [e.kind for e in board.events()] == ["TaskCreated"] * PROCESSES
    board.close()
