"""The providers' documented prompt-caching rules, applied to request bodies (for the local fake API).

Anthropic (Messages): the prompt is tools, then system, then message blocks. A `cache_control`
breakpoint (at most four; a longer TTL never after a shorter one) caches the prefix up to its block
when that prefix holds at least the model's minimum (1,024 tokens for Sonnet). A request reads the
longest cached prefix ending at one of its breakpoints or at one of the 20 blocks before each; the
rest up to the last breakpoint is written. An entry lives for its TTL (5 minutes or 1 hour) after its
last use. OpenAI: prompts of 1,024 tokens or more are cached automatically; a request reads the
longest prefix it shares with a recent prompt, counted in 1,024 tokens then steps of 128; an entry
lives 10 minutes after its last use (24 hours with `prompt_cache_retention: 24h`).

Tokens are estimated as one per four characters of the JSON the API receives.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20
ANTHROPIC_MIN_TOKENS = 1024
OPENAI_MIN_TOKENS = 1024
OPENAI_STEP_TOKENS = 128
TTL_S = {"5m": 300.0, "1h": 3600.0}
OPENAI_TTL_S = {"in_memory": 600.0, "24h": 86_400.0}
_RECENT_PROMPTS = 8  # prompts per OpenAI cache key compared against


class Refused(Exception):
    """What the real API answers 400 to."""


def tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _plain(block: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in block.items() if k != "cache_control"}, sort_keys=True)


@dataclass(frozen=True)
class AnthropicUsage:
    input_tokens: int  # after the last breakpoint: neither read nor written
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    ephemeral_1h_input_tokens: int = 0


@dataclass
class AnthropicCache:
    """Cached prefixes by the hash of their blocks, with the time each expires."""

    clock: Callable[[], float]
    min_tokens: int = ANTHROPIC_MIN_TOKENS
    entries: dict[int, tuple[float, float]] = field(default_factory=dict)  # key: (expires, ttl_s)

    def usage(self, body: dict[str, Any]) -> AnthropicUsage:
        blocks = anthropic_blocks(body)
        marks = [
            (i, b["cache_control"].get("ttl", "5m")) for i, b in enumerate(blocks) if "cache_control" in b
        ]
        check_breakpoints([ttl for _, ttl in marks])
        sizes = [tokens(_plain(b)) for b in blocks]
        ends = _cumulative(sizes)
        keys = _prefix_keys(blocks)
        now = self.clock()
        hit = self._longest_hit(keys, [i for i, _ in marks], now)
        read = ends[hit] if hit >= 0 else 0
        last = marks[-1][0] if marks else -1
        written = hour = 0
        for index, ttl in marks:
            if index > hit and ends[index] >= self.min_tokens:
                self.entries[keys[index]] = (now + TTL_S[ttl], TTL_S[ttl])
        if last > hit and ends[last] >= self.min_tokens:
            written = ends[last] - read
            hours = [i for i, ttl in marks if ttl == "1h" and i > hit and ends[i] >= self.min_tokens]
            hour = ends[hours[-1]] - read if hours else 0
        if hit >= 0:  # a read refreshes the entry's lifetime
            ttl_s = self.entries[keys[hit]][1]
            self.entries[keys[hit]] = (now + ttl_s, ttl_s)
        return AnthropicUsage(ends[-1] - read - written, read, written, hour)

    def _longest_hit(self, keys: list[int], marks: list[int], now: float) -> int:
        """The last block of the longest live cached prefix a breakpoint (or its lookback) finds; -1: none."""
        for index in sorted(marks, reverse=True):
            for j in range(index, max(-1, index - LOOKBACK_BLOCKS - 1), -1):
                if self.entries.get(keys[j], (0.0, 0.0))[0] > now:
                    return j
        return -1


def check_breakpoints(ttls: list[str]) -> None:
    """Refuse what the Messages API refuses: more than four breakpoints, a longer TTL after a shorter."""
    if len(ttls) > MAX_BREAKPOINTS:
        raise Refused(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {len(ttls)}."
        )
    for before, after in itertools.pairwise(ttls):
        if TTL_S[after] > TTL_S[before]:
            raise Refused("a ttl='1h' cache_control block must not come after a ttl='5m' one")


def anthropic_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Tools, system blocks and message blocks in the order the cache sees them."""
    blocks: list[dict[str, Any]] = list(body.get("tools") or [])
    system = body.get("system")
    if isinstance(system, str):
        blocks.append({"type": "text", "text": system})
    elif isinstance(system, list):
        blocks += system
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        blocks += [{**b, "_role": message.get("role")} for b in content]
    return blocks


def _cumulative(sizes: list[int]) -> list[int]:
    out, total = [], 0
    for size in sizes:
        total += size
        out.append(total)
    return out or [0]


def _prefix_keys(blocks: list[dict[str, Any]]) -> list[int]:
    keys, running = [], 0
    for block in blocks:
        running = hash((running, _plain(block)))
        keys.append(running)
    return keys


@dataclass
class OpenAICache:
    """Recent prompts per cache key (or per first 256 tokens), with the time each expires."""

    clock: Callable[[], float]
    prompts: dict[str, list[tuple[str, float]]] = field(default_factory=dict)

    def usage(self, body: dict[str, Any]) -> tuple[int, int]:
        """(prompt tokens, cached tokens) of a Chat Completions request, caching its prompt."""
        text = openai_prompt(body)
        key = str(body.get("prompt_cache_key") or text[: 4 * 256])
        ttl = OPENAI_TTL_S[str(body.get("prompt_cache_retention") or "in_memory")]
        now = self.clock()
        live = [(p, t) for p, t in self.prompts.get(key, []) if t > now]
        shared = max((_common(text, p) for p, _ in live), default=0)
        total = tokens(text)
        cached = _grid(min(shared // 4, total - 1))
        if total >= OPENAI_MIN_TOKENS:
            live.append((text, now + ttl))
        self.prompts[key] = live[-_RECENT_PROMPTS:]
        return total, cached


def openai_prompt(body: dict[str, Any]) -> str:
    """The prompt as one string: tools first, then each message (so a longer chat extends it)."""
    parts = [json.dumps(body.get("tools") or [], sort_keys=True)]
    parts += [json.dumps(m, sort_keys=True) for m in body.get("messages") or []]
    return "\n".join(parts)


def _common(a: str, b: str) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    low, high = 0, n  # binary search on the first difference
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def _grid(shared_tokens: int) -> int:
    if shared_tokens < OPENAI_MIN_TOKENS:
        return 0
    return OPENAI_MIN_TOKENS + (shared_tokens - OPENAI_MIN_TOKENS) // OPENAI_STEP_TOKENS * OPENAI_STEP_TOKENS
