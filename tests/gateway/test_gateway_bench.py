"""The gateway bench runs (a smoke test: its figures are printed by the bench, never asserted)."""

from __future__ import annotations

from shipyard.bench.gatewaypath import run_gateway


def test_the_gateway_bench_measures_both_paths() -> None:
    rows = run_gateway(agents=2, calls=3, gap_ms=1.0)
    assert [(r.path, r.agents, r.calls) for r in rows] == [("direct", 2, 6), ("gateway", 2, 6)]
    assert all(0 < r.first_byte_p50_ms <= r.total_p50_ms <= r.total_p95_ms for r in rows)
