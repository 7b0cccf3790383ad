"""The dashboard's JSON API and event stream over real HTTP (uvicorn on a free loopback port)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_helpers import SseClient, request, serving

from shipyard.board.sqlite import SqliteBoard
from shipyard.domain import Event, Handoff, TaskKind, TaskSpec
from shipyard.errors import UserError
from shipyard.fleet.status import run_status
from shipyard.web.app import DashboardOptions
from shipyard.web.security import Guard
from shipyard.web.server import check_binding
from shipyard.web.stream import StreamTiming

FAST = DashboardOptions(timing=StreamTiming(poll_s=0.02, keepalive_s=0.2))


@pytest.fixture
def board(tmp_path: Path) -> Iterator[SqliteBoard]:
    """A board with a small finished story: two tasks, a claim, a transcript, a merge, a check."""
    made = SqliteBoard(tmp_path / "board.sqlite")
    made.append(Event("RunStarted", {"workers": 2}))
    made.add_task(TaskSpec(title="parse"))
    made.add_task(TaskSpec(title="lex"))
    made.claim("worker-1", TaskKind.CODE, lease_s=60)
    made.append(Event("AgentStarted", {"role": "worker", "prompt": "# Task: parse"}, 1, "worker-1"))
    usage = {"role": "worker", "step": 1, "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.5}
    made.append(Event("ModelCalled", {**usage, "text": "on it", "tool_calls": ["finish"]}, 1, "worker-1"))
    made.append(Event("CommitMerged", {"sha": "ab" * 20}, 1, "worker-1"))
    made.complete(1, "worker-1", ["ab" * 20], Handoff("parsed"))
    made.append(Event("CheckRan", {"sha": "ab" * 20, "passed": True, "exit_code": 0}))
    yield made
    made.close()


def test_state_is_status_json_plus_agents(board: SqliteBoard) -> None:
    with serving(board, FAST) as server:
        reply = request(server, "GET", "/api/state")
    assert reply.status == 200
    state = reply.body
    status = json.loads(json.dumps(run_status(board)))
    assert set(state) == set(status) | {"agents", "generated_at"}
    for key in (
        "tasks",
        "merged_commits",
        "tokens",
        "cost_usd",
        "by_role",
        "authors",
        "last_check",
        "events",
    ):
        assert state[key] == status[key], key
    assert state["tasks"]["done"] == 1 and state["merged_commits"] == 1 and state["cost_usd"] == 0.5
    [agent] = state["agents"]
    assert (agent["name"], agent["role"], agent["state"], agent["tokens"]) == (
        "worker-1",
        "worker",
        "idle",
        15,
    )
    assert reply.headers["content-security-policy"].startswith("default-src 'self'")


def test_events_from_the_start_then_live_with_keepalives(board: SqliteBoard) -> None:
    stored = board.events()
    with serving(board, FAST) as server:
        sse = SseClient(server)
        first = sse.events(len(stored))
        assert [e["id"] for e in first] == [e.id for e in stored]
        assert [e["kind"] for e in first] == [e.kind for e in stored]
        assert first[-1]["text"].startswith("check on abababab")
        assert sse.next() == ("comment", "keep-alive"), "an idle stream sends keep-alives"
        board.add_task(TaskSpec(title="late"))
        [live] = sse.events(1)
        assert (live["kind"], live["data"]["title"], live["id"]) == ("TaskCreated", "late", stored[-1].id + 1)
        sse.close()


def test_events_since_last_event_id_and_filters(board: SqliteBoard) -> None:
    ids = [e.id for e in board.events()]
    with serving(board, FAST) as server:
        since = SseClient(server, f"?since={ids[3]}")
        assert [e["id"] for e in since.events(len(ids) - 4)] == ids[4:]
        since.close()
        resumed = SseClient(server, "?since=1", headers={"Last-Event-ID": str(ids[-2])})
        assert [e["id"] for e in resumed.events(1)] == ids[-1:]
        resumed.close()
        with SseClient(server, "?agent=worker-1&kinds=ModelCalled,CommitMerged&clip=20&follow=false") as only:
            got = []
            while (message := only.next())[0] != "closed":
                if message[0] == "event":
                    got.append(message[1])
        assert [e["kind"] for e in got] == ["ModelCalled", "CommitMerged"]
        assert got[1]["data"]["sha"] == "ab" * 10 + "…", "clip shortens long strings"


def test_a_finished_run_streams_its_whole_log(board: SqliteBoard) -> None:
    board.append(Event("RunFinished", {"state": "done", "reason": "ok", "cycles": 1}))
    total = len(board.events())
    with serving(board, FAST) as server:
        with SseClient(server, "?follow=false") as sse:
            kinds = []
            while (message := sse.next())[0] != "closed":
                kinds.append(message[1]["kind"] if message[0] == "event" else None)
        assert kinds[-1] == "RunFinished" and len([k for k in kinds if k]) == total


def test_transcript_tasks_and_recent(board: SqliteBoard) -> None:
    with serving(board, FAST) as server:
        transcript = request(server, "GET", "/api/transcript?agent=worker-1").body
        tasks = request(server, "GET", "/api/tasks").body
        recent = request(server, "GET", "/api/recent").body
    assert [e["kind"] for e in transcript] == ["AgentStarted", "ModelCalled"]
    assert transcript[1]["data"]["text"] == "on it"
    assert [(t["id"], t["status"], t["cost_usd"]) for t in tasks] == [(1, "done", 0.5), (2, "open", 0.0)]
    assert "ModelCalled" not in {e["kind"] for e in recent} and "CommitMerged" in {e["kind"] for e in recent}


def test_steering_and_control_through_the_api(board: SqliteBoard) -> None:
    with serving(board, FAST) as server:
        steered = request(server, "POST", "/api/steer", {"message": "  prefer   small tasks "})
        paused = request(server, "POST", "/api/control", {"action": "pause"})
        reprioritised = request(server, "POST", "/api/tasks/2/priority", {"priority": 7})
        cancelled = request(server, "POST", "/api/tasks/2/cancel", {"reason": "dup"})
        again = request(server, "POST", "/api/tasks/2/cancel", {})
        empty = request(server, "POST", "/api/steer", {"message": "   "})
        bad = request(server, "POST", "/api/control", {"action": "explode"})
    assert steered.status == 200 and steered.body["steering"].endswith("UTC] prefer small tasks")
    assert paused.body["control"] == "pause" and board.get_meta("control") == "pause"
    assert reprioritised.body == {"ok": True, "priority": 7}
    assert cancelled.body["status"] == "cancelled"
    assert again.status == 400 and "already cancelled" in again.body["error"]
    assert empty.status == 400 and "empty" in empty.body["error"]
    assert bad.status == 422
    kinds = [e.kind for e in board.events()][-4:]
    assert kinds == ["SteeringAdded", "RunPaused", "TaskReprioritised", "TaskCancelled"]


def test_writes_must_be_json_from_the_same_origin(board: SqliteBoard) -> None:
    with serving(board, FAST) as server:
        form = request(server, "POST", "/api/control", headers={"Content-Type": "text/plain"})
        origin = f"http://127.0.0.1:{server.port}"
        foreign = request(
            server, "POST", "/api/control", {"action": "stop"}, {"Origin": "http://evil.example"}
        )
        same = request(server, "POST", "/api/control", {"action": "stop"}, {"Origin": origin})
    assert form.status == 415 and foreign.status == 403
    assert same.status == 200 and board.get_meta("control") == "stop"


def test_loopback_only_refuses_other_host_names(board: SqliteBoard) -> None:
    with serving(board, FAST) as server:
        rebound = request(server, "GET", "/api/state", headers={"Host": "evil.example"})
        local = request(server, "GET", "/api/state", headers={"Host": f"localhost:{server.port}"})
    assert rebound.status == 421 and local.status == 200


def test_a_token_is_required_when_configured(board: SqliteBoard) -> None:
    options = DashboardOptions(timing=FAST.timing, guard=Guard(token="s3cret-token", loopback_only=False))
    with serving(board, options) as server:
        missing = request(server, "GET", "/api/state")
        wrong = request(server, "GET", "/api/state", headers={"Authorization": "Bearer nope"})
        bearer = request(server, "GET", "/api/state", headers={"Authorization": "Bearer s3cret-token"})
        page = request(server, "GET", "/?token=s3cret-token")
        cookie = page.headers["set-cookie"].split(";")[0]
        with_cookie = request(server, "GET", "/api/tasks", headers={"Cookie": cookie})
    assert (missing.status, wrong.status, bearer.status) == (401, 401, 200)
    assert page.status == 200 and "HttpOnly" in page.headers["set-cookie"]
    assert with_cookie.status == 200


def test_binding_beyond_loopback_needs_a_token() -> None:
    check_binding("127.0.0.1", None)
    check_binding("::1", None)
    check_binding("0.0.0.0", "t")
    with pytest.raises(UserError, match=r"--host 0\.0\.0\.0 exposes the dashboard.*--token"):
        check_binding("0.0.0.0", None)


def test_the_page_and_its_files_are_served(board: SqliteBoard) -> None:
    with serving(board, FAST) as server:
        page = request(server, "GET", "/")
        script = request(server, "GET", "/static/dashboard.js")
        missing = request(server, "GET", "/static/secrets.txt")
    assert page.status == 200 and 'id="agents"' in page.body and "/static/dashboard.js" in page.body
    assert script.status == 200 and "EventSource" in script.body
    assert missing.status == 404
