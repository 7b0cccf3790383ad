"""The model gateway: a small HTTP proxy on loopback through which every CLI agent reaches its provider.

Each CLI run gets a `Grant`: a random token valid for one upstream, and the gateway's URL for it as its
base URL. The gateway checks the token, asks the grant's gate (budgets), waits out a shared backoff,
puts the real key on the upstream request and streams the reply back, metering its usage. The key
never leaves Shipyard's process. The gateway listens (in its own thread and event loop, so that a busy
fleet never delays a stream) while any grant is live, and stops when the last one is revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx2 as httpx

from shipyard.gateway.backoff import Backoff
from shipyard.gateway.proxy import Call, Grant, Upstream, forward, refusal, token_of
from shipyard.gateway.usage import Tally, api_of
from shipyard.gateway.wire import BadRequest, Request, error_payload, json_reply, read_request

T = TypeVar("T")


@dataclass(frozen=True)
class GatewaySettings:
    """Where the gateway listens and how long it waits for a provider."""

    host: str = "127.0.0.1"
    connect_timeout_s: float = 30.0
    read_timeout_s: float = 600.0  # between two chunks of a reply


class Gateway:
    """Grants per-agent tokens for the configured upstreams and serves their calls while any is live."""

    def __init__(
        self,
        upstreams: Sequence[Upstream],
        settings: GatewaySettings | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.upstreams = {u.name: u for u in upstreams}
        self.settings = settings or GatewaySettings()
        self.backoff = backoff or Backoff()
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()
        self._live: _Live | None = None

    @property
    def url(self) -> str:
        """The gateway's address while it listens (`http://127.0.0.1:PORT`)."""
        if self._live is None:
            raise RuntimeError("the gateway is not listening: no grant is live")
        return self._live.url

    @property
    def socket(self) -> Path:
        """The unix socket it also listens on (sandboxed CLIs reach it only there)."""
        if self._live is None:
            raise RuntimeError("the gateway is not listening: no grant is live")
        return self._live.socket

    def grant(
        self, agent: str, upstream: str, on_call: Callable[[Call], None], gate: Callable[[], str]
    ) -> Grant:
        """A new token for `agent` on `upstream` (starts the gateway if it is not listening)."""
        with self._lock:
            if self._live is None:
                self._live = _Live.start(self)
            token = "sk-shipyard-" + secrets.token_urlsafe(24)  # key-shaped: redacted wherever it shows
            grant = Grant(
                agent, self.upstreams[upstream], token, f"{self._live.url}/{upstream}", on_call, gate
            )
            self._grants[token] = grant
            return grant

    def revoke(self, grant: Grant) -> None:
        """The token is worthless from now on; the last revocation stops the gateway."""
        with self._lock:
            self._grants.pop(grant.token, None)
            if not self._grants and self._live is not None:
                live, self._live = self._live, None
                live.stop()

    def close(self) -> None:
        with self._lock:
            self._grants.clear()
            if self._live is not None:
                live, self._live = self._live, None
                live.stop()

    async def serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, client: httpx.AsyncClient
    ) -> None:
        """Answer the requests of one connection until the client closes it."""
        try:
            while True:
                try:
                    request = await read_request(reader)
                except BadRequest as exc:
                    writer.write(json_reply(400, error_payload("openai", "bad_request", str(exc)), False))
                    break
                if request is None or not await self._answer(request, writer, client):
                    break
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(
        self, request: Request, writer: asyncio.StreamWriter, client: httpx.AsyncClient
    ) -> bool:
        """One request; returns whether the connection may serve another."""
        name, _, rest = request.target.lstrip("/").partition("/")
        upstream = self.upstreams.get(name)
        provider = upstream.provider if upstream else "openai"
        if request.method == "HEAD":  # Claude Code checks that its base URL answers
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            return request.keep_alive
        if upstream is None:
            writer.write(refusal(provider, 404, "not_found_error", f"no upstream at /{name}"))
            return request.keep_alive
        grant = self._grants.get(token_of(request))
        if grant is None or grant.upstream.name != name:
            writer.write(refusal(provider, 401, "authentication_error", "unknown or expired token"))
            return request.keep_alive
        reason = _safe(grant.gate, "")
        api = api_of("/" + rest)
        if reason:
            writer.write(refusal(provider, 403, "permission_error", f"call refused: {reason}"))
            _report(grant, Call(grant.agent, name, api, 403, Tally(), refused=reason))
            return request.keep_alive
        call = await forward(client, self.backoff, grant, request, "/" + rest, writer)
        _report(grant, call)
        return request.keep_alive


def _safe(fn: Callable[[], str], default: str) -> str:
    try:
        return fn()
    except Exception:  # a broken gate must not take the gateway down
        return default


def _report(grant: Grant, call: Call) -> None:
    with contextlib.suppress(Exception):
        grant.on_call(call)


class _Live:
    """The gateway while it listens: its thread, event loop, server socket and upstream client."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="shipyard-gateway", daemon=True)
        self.server: asyncio.Server | None = None
        self.unix: asyncio.Server | None = None
        self.client: httpx.AsyncClient | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.url = ""
        long_tmp = len(tempfile.gettempdir()) > 60  # a unix socket's path must fit in 108 bytes
        self.folder = Path(tempfile.mkdtemp(prefix="shipyard-gateway-", dir="/tmp" if long_tmp else None))
        self.socket = self.folder / "gateway.sock"

    @classmethod
    def start(cls, gateway: Gateway) -> _Live:
        live = cls(gateway)
        live.thread.start()
        try:
            live._call(live._open())
        except BaseException:
            live._halt()
            raise
        return live

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._shut())
        self._halt()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def _halt(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    async def _open(self) -> None:
        s = self.gateway.settings
        timeout = httpx.Timeout(s.read_timeout_s, connect=s.connect_timeout_s)
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
        self.client = httpx.AsyncClient(
            timeout=timeout, limits=limits
        )  # proxies and CAs from the environment
        self.server = await asyncio.start_server(self._connected, s.host, 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://{s.host}:{port}"
        self.unix = await asyncio.start_unix_server(self._connected, str(self.socket))

    def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self.client is not None
        task = asyncio.ensure_future(self.gateway.serve(reader, writer, self.client))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _shut(self) -> None:
        servers = [s for s in (self.server, self.unix) if s is not None]
        for server in servers:
            server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for server in servers:
            await server.wait_closed()
        if self.client is not None:
            await self.client.aclose()
