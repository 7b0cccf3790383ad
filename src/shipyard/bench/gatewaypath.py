"""What the model gateway adds to a call: N agents at once make streamed calls to a local fake provider,
directly and through the gateway; per call, the time to the first byte and to the end of the reply.

The fake provider (a process of its own) answers every call with a streamed Anthropic reply:
the first event at once, the rest after `gap_ms`, as a model that thinks between tokens.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import httpx2 as httpx

from shipyard.gateway import Gateway, Upstream

_FIRST = b'event: message_start\ndata: {"type": "message_start", "message": {"model": "bench", "usage": {"input_tokens": 10, "output_tokens": 1}}}\n\n'  # noqa: E501
_REST = b'event: message_delta\ndata: {"type": "message_delta", "usage": {"output_tokens": 5}}\n\n'


@dataclass(frozen=True)
class GatewayRow:
    """Medians over every call of one path (direct or through the gateway), in milliseconds."""

    path: str
    agents: int
    calls: int
    first_byte_p50_ms: float
    total_p50_ms: float
    total_p95_ms: float


def _provider_main(conn: Connection, gap_ms: float) -> None:
    """The fake provider's process: serves until told to stop."""

    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: _serve(r, w, gap_ms / 1000), "127.0.0.1", 0)
        conn.send(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        server.close()

    asyncio.run(main())


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, gap_s: float) -> None:
    head_line = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    try:
        while head := await reader.readuntil(b"\r\n\r\n"):
            lines = head.lower().split(b"\r\n")
            length = next((int(x.split(b":")[1]) for x in lines if x.startswith(b"content-length")), 0)
            await reader.readexactly(length)
            writer.write(head_line + b"%x\r\n%s\r\n" % (len(_FIRST), _FIRST))
            await writer.drain()
            await asyncio.sleep(gap_s)
            writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(_REST), _REST))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _fleet_main(conn: Connection, urls: list[tuple[str, str]], calls: int, think_ms: float) -> None:
    """The agents' process: every agent's calls, then the samples back."""
    conn.send(asyncio.run(_fleet(urls, calls, think_ms / 1000)))


def _in_process(target: Callable[..., None], *args: Any) -> Any:
    parent, child = multiprocessing.get_context("spawn").Pipe()
    proc = multiprocessing.get_context("spawn").Process(target=target, args=(child, *args), daemon=True)
    proc.start()
    try:
        return parent.recv()
    finally:
        proc.join()


async def _agent(url: str, token: str, calls: int, think: _Thinker, out: list[tuple[float, float]]) -> None:
    async with httpx.AsyncClient(timeout=60, trust_env=False) as client:
        for i in range(calls):
            await asyncio.sleep(think.next() if i else think.first())
            started = time.perf_counter()
            first = 0.0
            request = client.build_request(
                "POST", f"{url}/v1/messages", json={"model": "bench"}, headers={"x-api-key": token}
            )
            reply = await client.send(request, stream=True)
            async for _chunk in reply.aiter_raw():
                first = first or time.perf_counter() - started
            await reply.aclose()
            out.append((first, time.perf_counter() - started))


async def _fleet(urls: list[tuple[str, str]], calls: int, think_s: float) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    agents = (
        _agent(url, token, calls, _Thinker(think_s, seed), out) for seed, (url, token) in enumerate(urls)
    )
    await asyncio.gather(*agents)
    return out


@dataclass
class _Thinker:
    """An agent's think time between calls: uniform in mean x (1 +/- 0.5), seeded per agent, and a first
    call at a random moment within one think time, so that agents do not call in lockstep (as real ones
    do not); with no think time, every call at once, back to back."""

    mean_s: float
    seed: int

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def first(self) -> float:
        return self._random.uniform(0, self.mean_s)

    def next(self) -> float:
        return self.mean_s * self._random.uniform(0.5, 1.5)


def _row(path: str, agents: int, samples: list[tuple[float, float]]) -> GatewayRow:
    firsts = sorted(s[0] * 1000 for s in samples)
    totals = sorted(s[1] * 1000 for s in samples)
    p95 = totals[min(len(totals) - 1, int(len(totals) * 0.95))]
    return GatewayRow(
        path,
        agents,
        len(samples),
        round(statistics.median(firsts), 2),
        round(statistics.median(totals), 2),
        round(p95, 2),
    )


def run_gateway(
    agents: int = 64, calls: int = 20, gap_ms: float = 20.0, think_ms: float = 0.0
) -> list[GatewayRow]:
    """The same fleet of calls, direct and through the gateway; one row each. The provider and the
    agents run in processes of their own, the gateway in this one (as in a run)."""
    parent, child = multiprocessing.get_context("spawn").Pipe()
    provider = multiprocessing.get_context("spawn").Process(
        target=_provider_main, args=(child, gap_ms), daemon=True
    )
    provider.start()
    try:
        url = parent.recv()
        direct = _in_process(_fleet_main, [(url, "key")] * agents, calls, think_ms)
        gateway = Gateway([Upstream("bench", "anthropic", url, "key")])
        grants = [gateway.grant(f"agent-{i}", "bench", lambda call: None, lambda: "") for i in range(agents)]
        try:
            through = _in_process(_fleet_main, [(g.base_url, g.token) for g in grants], calls, think_ms)
        finally:
            gateway.close()
    finally:
        parent.send("stop")
        provider.join()
    return [_row("direct", agents, direct), _row("gateway", agents, through)]
