"""The dashboard's tasks, the report's table and the progress lines point to a task's kept attempts."""

from __future__ import annotations

from pathlib import Path

from web_helpers import request, serving

from shipyard.board.sqlite import SqliteBoard
from shipyard.domain import Event, TaskKind, TaskSpec
from shipyard.report.describe import describe
from shipyard.report.html import write_report


def _board(path: Path) -> SqliteBoard:
    board = SqliteBoard(path)
    board.add_task(TaskSpec(title="grind"))
    board.claim("worker-1", TaskKind.CODE, lease_s=60)
    kept = {"attempt": 1, "ref": "refs/shipyard/attempts/1/1", "sha": "ab" * 20, "ended": "limit"}
    board.append(Event("AttemptKept", kept, 1, "worker-1"))
    board.release(1, "worker-1", "agent stopped: max_steps", 3)
    board.add_task(TaskSpec(title="other"))
    return board


def test_tasks_link_to_their_kept_attempts(tmp_path: Path) -> None:
    board = _board(tmp_path / "board.sqlite")
    try:
        with serving(board) as server:
            tasks = request(server, "GET", "/api/tasks").body
        files = write_report(board, tmp_path / "report")
        lines = [describe(e) for e in board.events() if e.kind == "AttemptKept"]
    finally:
        board.close()
    assert [(t["id"], t["kept_attempts"]) for t in tasks] == [(1, [1]), (2, [])]
    html = files.index.read_text()
    assert "kept attempts 1: <code>shipyard attempts 1</code>" in html
    assert lines == ["worker-1's attempt 1 on #1 ended (limit); its work is kept: shipyard salvage 1"]
