"""The `tokens` bench: the fake API's caching rules, and the scenario through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import invoke
from shipyard.bench.cacherules import AnthropicCache, OpenAICache, Refused
from shipyard.bench.tokens import TokenPlan, token_row

FIVE = {"type": "ephemeral"}
HOUR = {"type": "ephemeral", "ttl": "1h"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _text(n_tokens: int, tag: str = "x") -> str:
    return (tag * 4 * n_tokens)[: 4 * n_tokens]


def _body(turns: list[str], marks: dict[int, dict[str, str]], system: str = "") -> dict[str, Any]:
    messages = []
    for i, text in enumerate(turns):
        block: dict[str, Any] = {"type": "text", "text": text}
        if i in marks:
            block["cache_control"] = marks[i]
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": [block]})
    body: dict[str, Any] = {"model": "m", "max_tokens": 10, "messages": messages}
    if system:
        body["system"] = [{"type": "text", "text": system, "cache_control": FIVE}]
    return body


def test_anthropic_writes_then_reads_the_prefix_up_to_the_breakpoint() -> None:
    clock = Clock()
    cache = AnthropicCache(clock)
    turns = [_text(1500, "a"), _text(100, "b"), _text(300, "c")]
    first = cache.usage(_body(turns, {0: FIVE}))
    assert first.cache_read_input_tokens == 0
    assert first.cache_creation_input_tokens >= 1500 and first.input_tokens >= 400, "after the mark: input"
    clock.now = 200
    second = cache.usage(_body([*turns, _text(50, "d"), _text(80, "e")], {0: FIVE, 4: FIVE}))
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens > 500 and second.input_tokens == 0


def test_anthropic_minimum_length_ttl_and_lookback() -> None:
    clock = Clock()
    cache = AnthropicCache(clock)
    short = cache.usage(_body([_text(500)], {0: FIVE}))
    assert short.cache_creation_input_tokens == 0, "below 1,024 tokens nothing is cached"
    turns = [_text(2000, "a")] + [_text(5, str(i)) for i in range(30)]
    cache.usage(_body(turns[:1], {0: FIVE}))
    clock.now = 299
    assert cache.usage(_body(turns[:2], {1: FIVE})).cache_read_input_tokens > 0, "found 1 block back"
    clock.now = 299 + 299
    far = cache.usage(_body(turns, {30: FIVE}))
    assert far.cache_read_input_tokens == 0, "29 blocks back is beyond the 20-block lookback"
    clock.now = 10_000
    assert cache.usage(_body(turns[:2], {1: FIVE})).cache_read_input_tokens == 0, "expired"


def test_anthropic_refuses_five_breakpoints_and_a_longer_ttl_after_a_shorter() -> None:
    cache = AnthropicCache(Clock())
    with pytest.raises(Refused, match="maximum of 4 blocks"):
        cache.usage(_body([_text(10)] * 5, dict.fromkeys(range(5), FIVE)))
    with pytest.raises(Refused, match="1h"):
        cache.usage(_body([_text(10)] * 2, {0: FIVE, 1: HOUR}))
    hour = cache.usage(_body([_text(2000), _text(10)], {0: HOUR, 1: FIVE}))
    assert (
        hour.ephemeral_1h_input_tokens >= 2000
        and hour.cache_creation_input_tokens > hour.ephemeral_1h_input_tokens
    )


def _chat(n_messages: int, key: str = "s1") -> dict[str, Any]:
    messages = [{"role": "user", "content": _text(300, str(i % 10))} for i in range(n_messages)]
    return {"model": "gpt-5", "messages": messages, "prompt_cache_key": key}


def test_openai_caches_prefixes_past_1024_tokens_in_steps_of_128() -> None:
    clock = Clock()
    cache = OpenAICache(clock)
    assert cache.usage(_chat(2))[1] == 0
    total, cached = cache.usage(_chat(10))
    assert cached == 0, "the short prompts before were under 1,024 tokens: nothing cached"
    _, cached2 = cache.usage(_chat(12))
    assert cached2 >= total - 128 and (cached2 - 1024) % 128 == 0
    assert cache.usage(_chat(12, key="other"))[1] == 0, "another cache key routes elsewhere"
    clock.now = 601
    assert cache.usage(_chat(12))[1] == 0, "in-memory retention ends after 10 idle minutes"


def test_a_short_session_meets_the_shape_of_the_targets() -> None:
    plan = TokenPlan(steps=16, context_chars=40_000)
    for provider in ("anthropic", "openai"):
        row = token_row(provider, plan)
        assert row.steps == 16 and row.compactions >= 1
        assert row.cache_share > 0.7, row
        assert row.rebuilds <= row.compactions, row
        assert row.cost_uncached_usd > 1.5 * row.cost_usd > 0, row


def test_bench_tokens_through_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = invoke("bench", "--scenario", "tokens:openai", "--json", str(out))
    assert result.exit_code == 0, result.stdout
    (row,) = json.loads(out.read_text())["tokens"]
    assert row["provider"] == "openai" and row["steps"] == 40
    assert "tokens: >= 85% of prompt tokens from cache (openai)" in result.stdout
    assert invoke("bench", "--scenario", "tokens:gemini").exit_code == 2
