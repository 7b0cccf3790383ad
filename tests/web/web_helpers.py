"""Helpers for dashboard tests: serve an app on a free loopback port, read server-sent events, wait."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from shipyard.board.base import Board
from shipyard.web.app import DashboardOptions, create_app
from shipyard.web.server import DashboardServer


def wait_until(check: Callable[[], object], timeout_s: float = 20.0, what: str = "the condition") -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.02)


@contextmanager
def serving(board: Board, options: DashboardOptions | None = None) -> Iterator[DashboardServer]:
    """The dashboard of `board` on 127.0.0.1 at a free port, for the duration of the block."""
    with DashboardServer(create_app(board, options), "127.0.0.1", 0) as server:
        yield server


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


def request(
    server: DashboardServer, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> Reply:
    """One HTTP request over a real socket; JSON bodies in and out."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    sent = {"Content-Type": "application/json"} if body is not None else {}
    try:
        conn.request(method, path, None if body is None else json.dumps(body), {**sent, **(headers or {})})
        resp = conn.getresponse()
        raw = resp.read()
        ctype = resp.getheader("content-type", "")
        data = json.loads(raw) if ctype.startswith("application/json") else raw.decode()
        return Reply(resp.status, data, {k.lower(): v for k, v in resp.getheaders()})
    finally:
        conn.close()


class SseClient:
    """Reads `GET /api/events` message by message: ("event", payload) or ("comment", text)."""

    def __init__(
        self, server: DashboardServer, query: str = "", headers: dict[str, str] | None = None
    ) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        self.conn.request("GET", f"/api/events{query}", headers=headers or {})
        self.resp = self.conn.getresponse()

    def next(self) -> tuple[str, Any]:
        fields: dict[str, str] = {}
        while True:
            line = self.resp.readline().decode()
            if line == "":
                return ("closed", None)
            line = line.rstrip("\n")
            if line == "" and fields:
                if "data" in fields:
                    return ("event", json.loads(fields["data"]))
                if "comment" in fields:
                    return ("comment", fields["comment"])
                fields = {}
                continue
            if line.startswith(":"):
                fields["comment"] = line[1:].strip()
            elif ":" in line:
                name, _, value = line.partition(":")
                fields[name] = value.strip()

    def events(self, count: int) -> list[dict[str, Any]]:
        """The next `count` events, skipping comments."""
        out: list[dict[str, Any]] = []
        while len(out) < count:
            kind, payload = self.next()
            assert kind != "closed", f"stream closed after {len(out)} events"
            if kind == "event":
                out.append(payload)
        return out

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
