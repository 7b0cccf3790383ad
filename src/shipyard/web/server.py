"""Serving the dashboard with uvicorn: in the foreground, or in a thread beside a running fleet."""

from __future__ import annotations

import socket
import threading

import uvicorn
from fastapi import FastAPI

from shipyard.errors import UserError
from shipyard.web.security import is_loopback

_JOIN_S = 10.0


def check_binding(host: str, token: str | None) -> None:
    """Loopback is open to this machine only; any other address needs a token."""
    if not is_loopback(host) and not token:
        raise UserError(
            f"--host {host} exposes the dashboard (and its steering) beyond this machine; "
            "pass --token SECRET (or set SHIPYARD_DASHBOARD_TOKEN), or use --host 127.0.0.1"
        )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host.strip("[]"), port), family=family, backlog=128)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port") from None


class DashboardServer:
    """Binds at once (so the port is known, 0 picks a free one), then serves until stopped."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._sock = _bind(host, port)
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def serve(self) -> None:
        """Serve in this thread until Ctrl-C (or `stop` from another thread)."""
        try:
            self._server.run(sockets=[self._sock])
        finally:
            self._sock.close()

    def start(self) -> DashboardServer:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self.serve, name="shipyard-dashboard", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """End open event streams and shut the server down."""
        self.app.state.stopping.set()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(_JOIN_S)

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
