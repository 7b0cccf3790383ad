"""The orchestrator watches the Ray cluster's control process (GCS): a short outage costs nothing; one
past the grace stops the run with one line, before Ray would end the process without a word."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from cli_helpers import make_repo
from shipyard.board.memory import InMemoryBoard
from shipyard.cluster.watch import watch_head, watched
from shipyard.config import ShipyardConfig
from shipyard.domain import Event
from shipyard.fleet.runtime import Runtime
from shipyard.git import GitRepo
from shipyard.report.describe import describe


def _runtime(tmp_path: Path) -> Runtime:
    return Runtime(ShipyardConfig(), GitRepo.open(make_repo(tmp_path / "repo")), InMemoryBoard(), {})


def _listener(port: int = 0) -> socket.socket:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)
    return server


def test_a_head_that_stops_answering_stops_the_run_with_one_line(tmp_path: Path) -> None:
    rt, server = _runtime(tmp_path), _listener()
    address = f"127.0.0.1:{server.getsockname()[1]}"

    async def run() -> float:
        watcher = asyncio.get_running_loop().create_task(watch_head(rt, address, grace_s=0.5, period_s=0.05))
        await asyncio.sleep(0.3)
        assert not rt.stop.is_set, "the head answers: the run goes on"
        server.close()
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(watcher, 5)
        return asyncio.get_running_loop().time() - started

    waited = asyncio.run(run())
    assert 0.5 <= waited < 5.0, "the grace, plus a check or two (a loaded machine is slow)"
    assert rt.stop.fatal and rt.stop.reason.startswith(f"the Ray cluster's head ({address}) has not answered")
    assert "`shipyard resume`" in rt.stop.reason and "\n" not in rt.stop.reason
    lost = [e for e in rt.board.events() if e.kind == "ClusterHeadLost"]
    assert len(lost) == 1 and lost[0].data["address"] == address


def test_an_outage_shorter_than_the_grace_costs_nothing(tmp_path: Path) -> None:
    rt, server = _runtime(tmp_path), _listener()
    port = server.getsockname()[1]

    async def run() -> None:
        watcher = asyncio.get_running_loop().create_task(
            watch_head(rt, f"127.0.0.1:{port}", grace_s=2.0, period_s=0.05)
        )
        await asyncio.sleep(0.2)  # seen answering
        server.close()
        await asyncio.sleep(0.3)  # down, for much less than the grace
        back = _listener(port)  # the GCS restarted on its port
        await asyncio.sleep(2.0)  # longer than the grace in all, but never down for that long
        assert not rt.stop.is_set and not watcher.done()
        rt.stop.set("done")
        await asyncio.wait_for(watcher, 2)
        back.close()

    asyncio.run(run())
    assert not rt.stop.fatal
    assert not [e for e in rt.board.events() if e.kind == "ClusterHeadLost"]


def test_the_terminal_and_the_report_name_the_lost_head() -> None:
    text = describe(Event("ClusterHeadLost", {"address": "10.0.0.1:6379", "down_s": 10.2}))
    assert text == "the Ray cluster's head (10.0.0.1:6379) has not answered for 10.2 s"


def test_an_address_that_never_answered_is_never_held_against_the_run(tmp_path: Path) -> None:
    rt, server = _runtime(tmp_path), _listener()
    port = server.getsockname()[1]
    server.close()  # nothing listens there from the start (a GCS address this machine cannot reach)

    async def run() -> None:
        watcher = asyncio.get_running_loop().create_task(
            watch_head(rt, f"127.0.0.1:{port}", grace_s=0.2, period_s=0.05)
        )
        await asyncio.sleep(0.8)
        assert not rt.stop.is_set and not watcher.done()
        rt.stop.set("done")
        await asyncio.wait_for(watcher, 2)

    asyncio.run(run())
    assert not rt.stop.fatal


def test_a_ray_client_address_is_watched_instead_of_the_gcs_behind_it() -> None:
    def gcs() -> str:
        raise AssertionError("a ray:// driver never asks for the GCS")

    assert watched("ray://10.0.0.5:10001", gcs) == "10.0.0.5:10001"
    assert watched("127.0.0.2:6390", lambda: "127.0.0.2:6390") == "127.0.0.2:6390"
