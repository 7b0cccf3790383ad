"""One call through the gateway: check the token, hold it while the provider is backing off, forward it
with the real key, stream the reply back chunk by chunk and meter its usage on the way."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2 as httpx

from shipyard.gateway.backoff import Backoff
from shipyard.gateway.usage import EventReader, Meter, Tally, api_of
from shipyard.gateway.wire import (
    CREDENTIALS,
    HOP_BY_HOP,
    LAST_CHUNK,
    Request,
    chunk,
    error_payload,
    head_bytes,
    json_reply,
)

ERROR_KEEP_BYTES = 4000
BODY_KEEP_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Upstream:
    """A provider endpoint and its real key; `name` is its route on the gateway (`/NAME/...`)."""

    name: str
    provider: str  # "anthropic" or "openai"
    base_url: str
    api_key: str = field(repr=False)

    def auth(self) -> list[tuple[str, str]]:
        if self.provider == "anthropic":
            return [("x-api-key", self.api_key)]
        return [("Authorization", f"Bearer {self.api_key}")]


@dataclass(frozen=True)
class Call:
    """One call an agent made through the gateway, as metered (or refused)."""

    agent: str
    upstream: str
    api: str | None
    status: int
    tally: Tally
    streamed: bool = False
    refused: str = ""  # why the gateway refused it without asking the provider
    error: str = ""  # the start of the provider's error reply (status >= 400)


@dataclass(frozen=True)
class Grant:
    """One agent's access: a token that is valid for one upstream until it is revoked."""

    agent: str
    upstream: Upstream
    token: str = field(repr=False)
    base_url: str  # what the CLI is given as its provider base URL
    on_call: Callable[[Call], None]
    gate: Callable[[], str]  # why the next call is refused (a budget), or ""


def token_of(request: Request) -> str:
    bearer = request.header("authorization")
    if bearer.lower().startswith("bearer "):
        return bearer[7:].strip()
    return request.header("x-api-key").strip()


def refusal(provider: str, status: int, kind: str, message: str) -> bytes:
    """The gateway's own error reply, in the provider's shape so that the CLI shows `message`."""
    return json_reply(status, error_payload(provider, kind, f"Shipyard gateway: {message}"), keep_alive=True)


async def forward(
    client: httpx.AsyncClient,
    backoff: Backoff,
    grant: Grant,
    request: Request,
    rest: str,
    writer: asyncio.StreamWriter,
) -> Call:
    """Send `request` upstream as `grant`'s agent and stream the reply to `writer`."""
    up = grant.upstream
    api = api_of(rest)
    while (wait := backoff.wait_s(up.name)) > 0:
        await asyncio.sleep(wait)  # another agent's 429: everyone waits for this provider
    headers = [(k, v) for k, v in request.headers if k.lower() not in HOP_BY_HOP | CREDENTIALS]
    headers += [*up.auth(), ("Accept-Encoding", "identity")]
    sent = client.build_request(
        request.method, up.base_url.rstrip("/") + rest, headers=headers, content=request.body
    )
    try:
        reply = await client.send(sent, stream=True)
    except httpx.HTTPError as exc:
        message = f"upstream {up.base_url} failed: {type(exc).__name__}: {exc}"
        writer.write(refusal(up.provider, 502, "api_error", message))
        return Call(grant.agent, up.name, api, 502, Tally(), error=message[:ERROR_KEEP_BYTES])
    try:
        return await _relay(reply, grant, api, request, writer, backoff)
    finally:
        await reply.aclose()


async def _relay(
    reply: httpx.Response,
    grant: Grant,
    api: str | None,
    request: Request,
    writer: asyncio.StreamWriter,
    backoff: Backoff,
) -> Call:
    streamed = "text/event-stream" in reply.headers.get("content-type", "")
    headers = [(k, v) for k, v in reply.headers.multi_items() if k.lower() not in HOP_BY_HOP]
    headers.append(("Transfer-Encoding", "chunked"))
    writer.write(head_bytes(reply.status_code, reply.reason_phrase, headers, request.keep_alive))
    meter = Meter(api or "")
    events = EventReader(meter) if streamed else None
    kept = bytearray()
    try:
        async for data in reply.aiter_raw():
            if not data:
                continue  # an empty chunk would end the chunked reply early
            if events is not None and api:
                events.feed(data)
            elif len(kept) < (BODY_KEEP_BYTES if reply.status_code < 400 else ERROR_KEEP_BYTES):
                kept += data
            writer.write(chunk(data))
            await writer.drain()
        writer.write(LAST_CHUNK)  # no wait from here to the report: a revocation cannot cut it off
    except (ConnectionError, httpx.HTTPError):
        # The agent hung up, or the provider broke off mid-reply (the agent sees a cut reply and the
        # connection closed): what was served so far is still billed.
        request.keep_alive = False
    if events is not None:
        events.close()
    elif api and reply.status_code < 400:
        meter.body(bytes(kept))
    if reply.status_code == 429:
        backoff.throttled(grant.upstream.name, reply.headers)
    elif reply.status_code < 400:
        backoff.succeeded(grant.upstream.name)
    error = bytes(kept[:ERROR_KEEP_BYTES]).decode("utf-8", "replace") if reply.status_code >= 400 else ""
    return Call(grant.agent, grant.upstream.name, api, reply.status_code, meter.tally, streamed, error=error)
