"""The dashboard says when the shared branch is red: the culprit merge and the fix, then the spell's end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from web_helpers import serving

from shipyard.board.sqlite import SqliteBoard
from shipyard.domain import Event, TaskSpec
from shipyard.web.app import DashboardOptions
from shipyard.web.stream import StreamTiming

FAST = DashboardOptions(timing=StreamTiming(poll_s=0.05, keepalive_s=1.0))
WAIT_MS = 20_000


def test_a_red_spell_shows_its_culprit_and_fix_until_green(browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    board = SqliteBoard(tmp_path / "board.sqlite")
    board.add_task(TaskSpec("write b"))
    board.add_task(TaskSpec("Fix the check"))
    board.append(Event("CommitMerged", {"sha": "c" * 40}, 1, "worker-1"))
    board.append(Event("CheckRan", {"sha": "c" * 40, "passed": False, "exit_code": 3}))
    board.append(Event("MainRed", {"sha": "c" * 40}))
    board.append(Event("CulpritFound", {"sha": "c" * 40, "probes": 1}, 1, "worker-1"))
    board.append(Event("FixWritten", {}, 2, "planner"))
    with serving(board, FAST) as server:
        page = browser.new_page()
        page.goto(server.url)
        health = page.locator("#health")
        expect(health).to_contain_text(f"merge of #1 ({'c' * 10})", timeout=WAIT_MS)
        expect(health).to_contain_text("#2")
        expect(page.locator("#problems")).to_contain_text("culprit: the merge of #1")
        board.append(Event("CommitMerged", {"sha": "d" * 40}, 2, "worker-2"))
        board.append(Event("MainGreen", {"sha": "d" * 40, "red_s": 95.0}))
        board.append(Event("CheckRan", {"sha": "d" * 40, "passed": True, "exit_code": 0}))
        expect(health).to_contain_text("1 ended, longest 95s", timeout=WAIT_MS)
        expect(health).not_to_contain_text("culprit")
        expect(health).to_contain_text("merges on green50%")
        page.close()
    board.close()
