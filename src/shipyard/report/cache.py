"""Prompt-cache figures folded from `ModelCalled` events: how much of the prompt the cache served."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class CacheFigures:
    """Prompt tokens (cached ones included), cache reads and writes, and replies cut at the output limit."""

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    calls: int = 0
    cut_replies: int = 0

    def add(self, data: dict[str, Any]) -> None:
        """Fold one `ModelCalled` event's data in."""
        self.input_tokens += int(data.get("input_tokens", 0))
        self.cache_read_tokens += int(data.get("cache_read_tokens", 0))
        self.cache_write_tokens += int(data.get("cache_write_tokens", 0))
        self.calls += 1
        self.cut_replies += int(data.get("cut_replies", 0))

    @property
    def hit_rate(self) -> float:
        """The share of prompt tokens read from the cache (0 when there were none)."""
        return self.cache_read_tokens / self.input_tokens if self.input_tokens else 0.0

    def view(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "hit_rate": round(self.hit_rate, 4),
            "calls": self.calls,
            "cut_replies": self.cut_replies,
        }


class CacheFold:
    """Cache figures for the whole run, per role and per agent."""

    def __init__(self) -> None:
        self.total = CacheFigures()
        self.by_role: dict[str, CacheFigures] = {}
        self.by_agent: dict[str, CacheFigures] = {}

    def add(self, role: str, agent: str, data: dict[str, Any]) -> None:
        self.total.add(data)
        self.by_role.setdefault(role, CacheFigures()).add(data)
        self.by_agent.setdefault(agent, CacheFigures()).add(data)

    def view(self) -> dict[str, Any]:
        """What `status --json` shows under `cache`."""
        return {
            **self.total.view(),
            "by_role": {k: v.view() for k, v in sorted(self.by_role.items())},
            "by_agent": {k: v.view() for k, v in sorted(self.by_agent.items())},
        }
