"""A real headless Chromium on the dashboard of a running scripted fleet.

The page is open before the fleet starts; tasks and agents then appear and change without a reload; a
steering message posted from the page's form reaches the planner that wakes after the workers' merges.
"""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

from web_helpers import serving

from cli_helpers import make_repo
from shipyard.board.sqlite import SqliteBoard
from shipyard.config import ShipyardConfig
from shipyard.domain import Role
from shipyard.fleet.run import Fleet, RunResult
from shipyard.fleet.runtime import Runtime
from shipyard.git import GitRepo
from shipyard.models.base import ModelRequest, ModelResponse
from shipyard.models.scripted import ScriptedModel, call, turn
from shipyard.web.app import DashboardOptions
from shipyard.web.stream import StreamTiming

STEER = "Prefer tiny commits and keep the changelog short"
WAIT_MS = 20_000
FAST = DashboardOptions(timing=StreamTiming(poll_s=0.05, keepalive_s=1.0))


def _prompt(req: ModelRequest) -> str:
    return next((m.content for m in req.messages if m.role == "user"), "")


def _steps(req: ModelRequest) -> int:
    return sum(1 for m in req.messages if m.role == "tool")


def planner(req: ModelRequest) -> ModelResponse:
    """First session: two tasks; every later session (the wake-up) finishes at once."""
    if "(none: fresh start)" in _prompt(req) and _steps(req) == 0:
        tasks = [
            call(
                "create_task",
                f"c{i}",
                title=f"Write {n}.txt",
                description="",
                acceptance=f"{n}.txt",
                scope=[],
            )
            for i, n in enumerate(("alpha", "beta"))
        ]
        return turn(*tasks)
    return turn(call("finish", summary="planned"))


def worker(req: ModelRequest) -> ModelResponse:
    found = re.search(r"Write (\w+)\.txt", _prompt(req))
    name = found.group(1) if found else "unknown"
    if _steps(req) == 0:
        return turn(call("write_file", path=f"{name}.txt", content=f"{name}\n"))
    return turn(call("finish", summary=f"wrote {name}.txt"))


def judge(_req: ModelRequest) -> ModelResponse:
    return turn(call("verdict", decision="stop", notes="both files are there"))


class GatedModel:
    """Holds every worker call until `gate` opens, so the test sees the fleet mid-flight."""

    def __init__(self, inner: ScriptedModel, gate: threading.Event) -> None:
        self.inner, self.gate, self.name = inner, gate, "gated"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        while request.role is Role.WORKER and not self.gate.is_set():
            await asyncio.sleep(0.02)
        return await self.inner.complete(request)


def _runtime(root: Path, model: GatedModel) -> Runtime:
    cfg = ShipyardConfig.model_validate(
        {"goal": "write two files", "workers": 2, "max_cycles": 1, "check": "true"}
    )
    board = SqliteBoard(root / ".shipyard" / "board.sqlite")
    return Runtime(config=cfg, repo=GitRepo.open(root), board=board, models=dict.fromkeys(Role, model))


def test_dashboard_shows_a_running_fleet_live_and_steers_its_planner(browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    root = make_repo(tmp_path / "repo")
    scripted = ScriptedModel(programs={Role.PLANNER: planner, Role.WORKER: worker, Role.JUDGE: judge})
    gate = threading.Event()
    rt = _runtime(root, GatedModel(scripted, gate))
    web_board = SqliteBoard(root / ".shipyard" / "board.sqlite")
    outcome: dict[str, RunResult] = {}
    fleet = threading.Thread(target=lambda: outcome.update(run=asyncio.run(Fleet(rt).run())), daemon=True)
    with serving(web_board, FAST) as server:
        page = browser.new_page()
        page.goto(server.url)
        expect(page.locator("#conn")).to_have_text("live", timeout=WAIT_MS)
        expect(page.locator("#run-state")).to_have_text("new")
        page.evaluate("window.loadedOnce = 'yes'")
        fleet.start()
        try:
            expect(page.locator("[data-count=claimed]")).to_have_text("2", timeout=WAIT_MS)
            for slot in ("worker-1", "worker-2"):
                row = page.locator(f"tr[data-agent='{slot}']")
                expect(row).to_have_attribute("data-state", "working", timeout=WAIT_MS)
                expect(row).to_contain_text("Write ")
            expect(page.locator("#run-state")).to_have_text("running")

            page.fill("#steer-message", STEER)
            page.click("#steer-send")
            expect(page.locator("#steering")).to_contain_text(STEER, timeout=WAIT_MS)
            expect(page.locator("#activity")).to_contain_text(f"steering: {STEER}", timeout=WAIT_MS)

            gate.set()
            expect(page.locator("[data-count=done]")).to_have_text("2", timeout=WAIT_MS)
            expect(page.locator("#merges li[data-kind=CommitMerged]")).to_have_count(2, timeout=WAIT_MS)
            expect(page.locator("#run-state")).to_have_text("done", timeout=WAIT_MS)
            expect(page.locator("tr[data-agent='worker-1']")).to_have_attribute("data-state", "idle")
            expect(page.locator("#health")).to_contain_text("passed")
        finally:
            gate.set()
            fleet.join(60)

        assert outcome["run"].state == "done"
        woken = [c for c in scripted.calls if c.role is Role.PLANNER and STEER in _prompt(c)]
        assert woken, "the planner that woke after the merges was given the steering message"
        assert all(STEER not in _prompt(c) for c in scripted.calls[:1])

        page.click("tr[data-agent='planner']")
        expect(page.locator("#transcript-agent")).to_have_text("planner")
        expect(page.locator("#transcript li[data-kind=AgentStarted]")).to_have_count(2, timeout=WAIT_MS)
        expect(page.locator("#transcript")).to_contain_text(STEER)
        assert page.evaluate("window.loadedOnce") == "yes", "everything above happened without a reload"
        page.close()
    rt.board.close()
    web_board.close()
