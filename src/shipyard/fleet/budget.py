"""Run budgets: USD, tokens and wall time. Reaching one stops the run gracefully."""

from __future__ import annotations

import time

from shipyard.fleet.runtime import Runtime


def over_budget(rt: Runtime) -> str:
    """The reason the run is over budget, or an empty string."""
    b, t = rt.config.budget, rt.totals
    if b.usd and t.cost_usd >= b.usd:
        return f"budget reached: ${t.cost_usd:.4f} of ${b.usd:.2f}"
    if b.tokens and t.tokens >= b.tokens:
        return f"budget reached: {t.tokens} of {b.tokens} tokens"
    if b.wall_time_s and time.monotonic() - rt.started_monotonic >= b.wall_time_s:
        return f"budget reached: wall time {b.wall_time_s:.0f}s"
    return ""
