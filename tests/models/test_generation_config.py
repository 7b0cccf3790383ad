"""`[generation.*]` in shipyard.toml: per-role settings, defaults, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.config import load_config
from shipyard.domain import Role
from shipyard.errors import ConfigError


def _load(tmp_path: Path, toml: str) -> object:
    (tmp_path / "shipyard.toml").write_text(toml)
    return load_config(tmp_path)


def test_role_tables_sit_over_the_default_table_and_builtins(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text(
        "[generation.default]\nmax_output_tokens = 16000\n"
        '[generation.worker]\nreasoning_effort = "high"\ncache_ttl = "1h"\n'
    )
    config = load_config(tmp_path)
    worker, planner, judge = (config.generation_for(r) for r in (Role.WORKER, Role.PLANNER, Role.JUDGE))
    assert (worker.max_output_tokens, worker.reasoning_effort, worker.cache_ttl) == (16000, "high", "1h")
    assert (planner.max_output_tokens, planner.prefix_cache_ttl) == (16000, "1h")
    assert (judge.max_output_tokens, judge.cache_ttl, judge.prefix_cache_ttl) == (16000, "5m", None)


def test_defaults_suit_todays_models(tmp_path: Path) -> None:
    worker = load_config(tmp_path).generation_for(Role.WORKER)
    assert worker.max_output_tokens == 32_000 and worker.retry_max_output_tokens == 64_000


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[generation.workr]\nmax_output_tokens = 100\n", "unknown role `workr`"),
        ("[generation.worker]\nthinking_budget_tokens = 500\n", "`thinking_budget_tokens` = 500 must be"),
        ("[generation.worker]\nthinking_budget_tokens = 40000\n", "below `max_output_tokens` (32000)"),
        ('[generation.worker]\ncache_ttl = "2h"\n', "generation.worker.cache_ttl"),
        ('[generation.worker]\ncache_ttl = "1h"\nprefix_cache_ttl = "5m"\n', "may not be shorter"),
        ("[generation.worker]\nmax_tokns = 1\n", "unknown key"),
    ],
)
def test_bad_settings_are_one_clear_line(tmp_path: Path, toml: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, toml)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_openai_responses_shares_the_openai_provider_table(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text('[providers.openai]\nbase_url = "http://127.0.0.1:9/v1"\n')
    config = load_config(tmp_path)
    shared = config.provider_config("openai-responses")
    assert shared is not None and shared.base_url == "http://127.0.0.1:9/v1"
    assert config.provider_config("anthropic") is None
