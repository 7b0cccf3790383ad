"""Cache reads and writes reported by the APIs reach `status --json` split, and cost is billed as sent."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
from test_provider_run import HELLO, _scripts

from cli_helpers import invoke
from fake_llm import OUTPUT_TOKENS, FakeLLMServer, FakeReply, count_tool_results

PROMPT, READ, WRITE = 10_000, 9_000, 600
PRICES = (3.0, 15.0, 0.3, 3.75)  # input, output, cache read, cache write per million tokens


def _worker(api: str, body: dict[str, Any]) -> FakeReply:
    cache = {"input_tokens": PROMPT, "cache_read": READ, "cache_write": WRITE if api == "anthropic" else 0}
    if count_tool_results(api, body) == 0:
        return FakeReply(tool_calls=[("write_file", {"path": "hello.py", "content": HELLO})], **cache)
    return FakeReply(tool_calls=[("finish", {"summary": "wrote hello.py"})], **cache)


def _expected_cost(write: int) -> float:
    inp, out, read, wri = PRICES
    uncached = PROMPT - READ - write
    return (uncached * inp + READ * read + write * wri + OUTPUT_TOKENS * out) / 1e6


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_status_shows_cache_split_and_billed_cost(repo: Path, tmp_path: Path, provider: str) -> None:
    script = _scripts(tmp_path)
    check = f'{shlex.quote(sys.executable)} -c \'import hello; assert hello.greet("x") == "hello x"\''
    inp, out, read, write = PRICES
    with FakeLLMServer(_worker) as server:
        base = server.openai_base_url if provider == "openai" else server.anthropic_base_url
        (repo / "shipyard.toml").write_text(
            f'goal = "write hello.py"\ncheck = {json.dumps(check)}\nworkers = 1\n'
            f'[models]\nplanner = "scripted:{script}"\njudge = "scripted:{script}"\n'
            f'worker = "{provider}:fake-model"\n'
            f'[providers.{provider}]\nbase_url = "{base}"\n'
            f'[prices."{provider}:fake-model"]\ninput_per_mtok = {inp}\noutput_per_mtok = {out}\n'
            f"cache_read_per_mtok = {read}\ncache_write_per_mtok = {write}\n"
        )
        result = invoke("run", str(repo), env={f"{provider.upper()}_API_KEY": "test-key"})
    assert result.exit_code == 0, result.stdout + result.stderr
    status = json.loads(invoke("status", str(repo), "--json").stdout)
    worker = status["cache"]["by_role"]["worker"]
    written = WRITE if provider == "anthropic" else 0
    assert (worker["calls"], worker["input_tokens"]) == (2, 2 * PROMPT)
    assert (worker["cache_read_tokens"], worker["cache_write_tokens"]) == (2 * READ, 2 * written)
    assert worker["hit_rate"] == pytest.approx(READ / PROMPT)
    assert status["by_role"]["worker"]["cost_usd"] == pytest.approx(2 * _expected_cost(written), rel=1e-4)
    # The scripted planner and judge cost nothing: the run's cost is the worker's two billed calls.
    assert status["cost_usd"] == pytest.approx(2 * _expected_cost(written), rel=1e-4)
    report = tmp_path / "report"
    assert invoke("report", str(repo), "--out", str(report)).exit_code == 0
    page = (report / "index.html").read_text()
    assert "cache hit" in page and f"{READ / PROMPT:.1%}" in page
