"""Who may use the dashboard: loopback only by default, a token otherwise, no cross-site writes.

On loopback the `Host` header must name a loopback host (no DNS rebinding). With a token, every request
carries it (`Authorization: Bearer`, the `token` query parameter, or the cookie the page sets). Writes
must be JSON from the page's own origin, which a foreign site cannot send without CORS.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "shipyard_token"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def is_loopback(host: str) -> bool:
    """True for `localhost`, 127.0.0.0/8 and ::1."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """The host of a `Host` header, without its port (IPv6 in brackets too)."""
    return urlsplit(f"//{host_header}").hostname or ""


@dataclass(frozen=True)
class Guard:
    """The rules: `token` (None on loopback) and whether the Host header must be loopback."""

    token: str | None
    loopback_only: bool


class GuardMiddleware:
    """ASGI middleware applying a `Guard` to every HTTP request, and security headers to every reply."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _reply(send, *refusal)
            return
        set_cookie = self._cookie_to_set(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(_HEADERS)
                if set_cookie:
                    extra.append((b"set-cookie", set_cookie.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        host = host_name(headers.get("host", ""))
        if self.guard.loopback_only and not is_loopback(host):
            return 421, "this dashboard answers on loopback only"
        if self.guard.token is not None and not self._has_token(scope, headers):
            return 401, "a token is needed: open the URL with ?token=... or send Authorization: Bearer ..."
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            return _write_refusal(headers)
        return None

    def _has_token(self, scope: Scope, headers: dict[str, str]) -> bool:
        expected = self.guard.token or ""
        cookie = SimpleCookie(headers.get("cookie", ""))
        offered = [
            headers.get("authorization", "").removeprefix("Bearer ").strip(),
            cookie[COOKIE].value if COOKIE in cookie else "",
            *_query(scope).get("token", []),
        ]
        return any(o and hmac.compare_digest(o.encode(), expected.encode()) for o in offered)

    def _cookie_to_set(self, scope: Scope) -> str:
        """When the page is opened with ?token=, keep the token in a cookie for its API calls."""
        if self.guard.token is None or not _query(scope).get("token"):
            return ""
        return f"{COOKIE}={self.guard.token}; Path=/; HttpOnly; SameSite=Strict"


def _write_refusal(headers: dict[str, str]) -> tuple[int, str] | None:
    if not headers.get("content-type", "").startswith("application/json"):
        return 415, "send JSON (Content-Type: application/json)"
    origin = headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != headers.get("host", ""):
        return 403, "cross-site requests may not change the run"
    return None


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _query(scope: Scope) -> dict[str, list[str]]:
    raw: Any = scope.get("query_string", b"")
    return parse_qs(raw.decode("latin-1"))


async def _reply(send: Send, status: int, text: str) -> None:
    body = f'{{"error": "{text}"}}'.encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *_HEADERS]})
    await send({"type": "http.response.body", "body": body})
