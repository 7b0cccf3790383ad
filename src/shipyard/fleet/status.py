"""The run's status, derived from the board and its event log."""

from __future__ import annotations

from typing import Any

from shipyard.board.base import Board
from shipyard.fleet.ledger import totals_from_events


def run_status(board: Board) -> dict[str, Any]:
    """One JSON-ready object: state, task counts, merges, cycles, tokens, cost, the last check."""
    events = board.events()
    totals = totals_from_events(events)
    merged = [e for e in events if e.kind == "CommitMerged"]
    checks = [e for e in events if e.kind == "CheckRan"]
    by_role: dict[str, dict[str, float]] = {}
    for e in events:
        if e.kind == "ModelCalled":
            row = by_role.setdefault(str(e.data.get("role")), {"tokens": 0, "cost_usd": 0.0})
            row["tokens"] += int(e.data.get("input_tokens", 0)) + int(e.data.get("output_tokens", 0))
            row["cost_usd"] += float(e.data.get("cost_usd", 0.0))
    last_check = checks[-1].data if checks else None
    return {
        "state": board.get_meta("state") or "new",
        "reason": board.get_meta("reason") or "",
        "tasks": board.counts(),
        "merged_commits": len(merged),
        "conflicts": sum(1 for e in events if e.kind == "MergeConflicted"),
        "cycles": int(board.get_meta("cycle") or 0),
        "tokens": totals.tokens,
        "cost_usd": round(totals.cost_usd, 6),
        "by_role": by_role,
        "authors": sorted({e.agent for e in merged if e.agent}),
        "last_check": None
        if last_check is None
        else {
            "sha": last_check.get("sha"),
            "passed": last_check.get("passed"),
        },
        "events": len(events),
    }
