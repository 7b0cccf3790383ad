"""`shipyard steer`, `pause`, `unpause`, `stop` and `task cancel|priority` on a run's board."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_helpers import invoke, make_repo
from shipyard.board.sqlite import SqliteBoard
from shipyard.domain import Handoff, TaskKind, TaskSpec
from shipyard.web.control import KEEP_MESSAGES


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    """A repository with a run's board: task 1 done, tasks 2 and 3 open."""
    root = make_repo(tmp_path / "target")
    board = SqliteBoard(root / ".shipyard" / "board.sqlite")
    for title in ("done already", "parser", "lexer"):
        board.add_task(TaskSpec(title=title))
    board.claim("worker-1", TaskKind.CODE, lease_s=60)
    board.complete(1, "worker-1", ["abc"], Handoff("ok"))
    board.close()
    yield root


def _board(root: Path) -> SqliteBoard:
    return SqliteBoard(root / ".shipyard" / "board.sqlite")


def _refused(result: object, needle: str) -> None:
    assert result.exit_code == 2, result.stdout  # type: ignore[attr-defined]
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and needle in lines[0], lines


def test_steer_keeps_the_last_messages_for_the_planners(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = invoke("steer", str(repo), "Focus on the parser first")
    assert first.exit_code == 0, first.stderr
    assert "steering added" in first.stdout
    monkeypatch.chdir(repo)
    for i in range(KEEP_MESSAGES + 1):
        assert invoke("steer", f"note {i}").exit_code == 0
    board = _board(repo)
    lines = (board.get_meta("steering") or "").splitlines()
    events = [e for e in board.events() if e.kind == "SteeringAdded"]
    board.close()
    assert len(lines) == KEEP_MESSAGES and lines[-1].endswith(f"UTC] note {KEEP_MESSAGES}")
    assert all(line.startswith("- [") for line in lines)
    assert "Focus on the parser" not in "\n".join(lines), "older messages drop off"
    assert events[0].data["message"] == "Focus on the parser first"
    assert len(events) == KEEP_MESSAGES + 2 and events[0].agent == "person"


def test_pause_unpause_and_stop_set_the_control_and_log_it(repo: Path) -> None:
    for command, control, kind in (
        ("pause", "pause", "RunPaused"),
        ("unpause", "", "RunUnpaused"),
        ("stop", "stop", "StopRequested"),
    ):
        result = invoke(command, str(repo))
        assert result.exit_code == 0, result.stderr
        board = _board(repo)
        assert board.get_meta("control") == control
        assert board.events()[-1].kind == kind
        board.close()


def test_task_cancel_and_priority(repo: Path) -> None:
    assert invoke("task", "priority", "3", "9", str(repo)).stdout.strip() == "task 3 priority 9"
    assert (
        invoke("task", "cancel", "2", str(repo), "--reason", "duplicate").stdout.strip() == "task 2 cancelled"
    )
    board = _board(repo)
    assert board.get(3).spec.priority == 9
    assert board.get(2).status.value == "cancelled" and "cancelled: duplicate" in board.get(2).notes
    assert [e.kind for e in board.events()][-2:] == ["TaskReprioritised", "TaskCancelled"]
    board.close()


def test_bad_steering_and_task_changes_get_one_line(repo: Path) -> None:
    _refused(invoke("steer", str(repo), "   "), "the steering message is empty")
    _refused(invoke("steer", str(repo), "a", "b"), 'shipyard steer [PATH] "message"')
    _refused(invoke("task", "cancel", "99", str(repo)), "no task 99 on the board")
    _refused(invoke("task", "cancel", "1", str(repo)), "cannot cancel task 1: it is already done")
    _refused(
        invoke("task", "priority", "1", "5", str(repo)), "cannot reprioritise task 1: it is already done"
    )
    empty = make_repo(repo.parent / "no-run")
    _refused(invoke("pause", str(empty)), "no Shipyard run")
