"""Token usage read from provider replies as they pass through the gateway, streamed or not.

Anthropic Messages: `usage` on the message (streamed: `message_start`, then cumulative `message_delta`);
its `input_tokens` leave out cache reads and writes, which are added here. OpenAI Responses: `usage` on
the response (streamed: `response.completed`); Chat Completions: `usage` on the completion (streamed: the
last chunk, when asked for). OpenAI's input counts include cached tokens. `input` is always all input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from shipyard.models.base import Usage

APIS = {"/messages": "anthropic", "/responses": "responses", "/chat/completions": "chat"}


def api_of(path: str) -> str | None:
    """Which metered API a request path calls (`.../v1/messages` is Anthropic Messages), or None."""
    clean = path.split("?", 1)[0].rstrip("/")
    return next((api for suffix, api in APIS.items() if clean.endswith(suffix)), None)


@dataclass
class Tally:
    """One reply's usage as billed, in the fields of `models.base.Usage` (all input, cache reads and
    writes included; reasoning within output), and the model that answered."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    model: str = ""

    @property
    def usage(self) -> Usage:
        """As a `Usage`: every field it has (so pricing sees the cache reads and writes)."""
        return Usage(**{f.name: getattr(self, f.name) for f in fields(Usage)})


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


class Meter:
    """Reads one reply of `api`: a whole JSON body, or its server-sent events one at a time."""

    def __init__(self, api: str) -> None:
        self.api = api
        self.tally = Tally()
        self._anthropic: dict[str, Any] = {}

    def body(self, data: bytes) -> None:
        """A whole (non-streamed) JSON reply."""
        try:
            reply = json.loads(data)
        except ValueError:
            return
        if isinstance(reply, dict):
            self._model(reply)
            self._usage(reply.get("usage"))

    def event(self, data: dict[str, Any]) -> None:
        """One server-sent event's JSON data."""
        kind = data.get("type")
        if self.api == "anthropic":
            if kind == "message_start" and isinstance(data.get("message"), dict):
                self._model(data["message"])
                self._usage(data["message"].get("usage"))
            elif kind == "message_delta":
                self._usage(data.get("usage"))
        elif self.api == "responses":
            if isinstance(data.get("response"), dict):
                self._model(data["response"])
                self._usage(data["response"].get("usage"))
        else:
            self._model(data)
            self._usage(data.get("usage"))

    def _model(self, reply: dict[str, Any]) -> None:
        if isinstance(reply.get("model"), str) and reply["model"]:
            self.tally.model = reply["model"]

    def _usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        if self.api == "anthropic":
            self._anthropic.update({k: v for k, v in usage.items() if v is not None})
            self._set_anthropic(self._anthropic)
            return
        names = ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")
        if self.api == "chat":
            names = (
                "prompt_tokens",
                "completion_tokens",
                "prompt_tokens_details",
                "completion_tokens_details",
            )
        t = self.tally
        t.input_tokens, t.output_tokens = _int(usage.get(names[0])), _int(usage.get(names[1]))
        t.cache_read_tokens = _int(_details(usage, names[2]).get("cached_tokens"))
        t.reasoning_tokens = _int(_details(usage, names[3]).get("reasoning_tokens"))

    def _set_anthropic(self, u: dict[str, Any]) -> None:
        t = self.tally
        t.cache_read_tokens = _int(u.get("cache_read_input_tokens"))
        t.cache_write_tokens = _int(u.get("cache_creation_input_tokens"))
        t.cache_write_1h_tokens = _int(_details(u, "cache_creation").get("ephemeral_1h_input_tokens"))
        t.input_tokens = _int(u.get("input_tokens")) + t.cache_read_tokens + t.cache_write_tokens
        t.output_tokens = _int(u.get("output_tokens"))


def _details(usage: dict[str, Any], name: str) -> dict[str, Any]:
    found = usage.get(name)
    return found if isinstance(found, dict) else {}


class EventReader:
    """Splits a `text/event-stream` body, fed in arbitrary chunks, into JSON event data for a meter."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self._buffer = b""

    def feed(self, chunk: bytes) -> None:
        self._buffer = (self._buffer + chunk).replace(b"\r\n", b"\n")
        while b"\n\n" in self._buffer:
            block, self._buffer = self._buffer.split(b"\n\n", 1)
            self._block(block)

    def close(self) -> None:
        if self._buffer.strip():
            self._block(self._buffer)
        self._buffer = b""

    def _block(self, block: bytes) -> None:
        if b'"usage"' not in block:
            return  # most events are text deltas: only those that carry usage are parsed
        lines = [line[5:].lstrip() for line in block.split(b"\n") if line.startswith(b"data:")]
        if not lines:
            return
        try:
            data = json.loads(b"\n".join(lines))
        except ValueError:
            return  # e.g. Chat Completions' closing `[DONE]`
        if isinstance(data, dict):
            self.meter.event(data)
