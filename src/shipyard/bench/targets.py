"""The issue's targets, checked against measured rows: one line each, met or missed, with the figure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Verdict:
    target: str
    met: bool
    measured: str


def _pick(rows: Rows, **match: Any) -> dict[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def _coordination(rows: Rows) -> list[Verdict]:
    out = []
    for agents, floor in ((256, 0.9), (1024, 0.8)):
        row = _pick(rows, agents=agents)
        if row is not None:
            measured = f"{row['efficiency']} (think {row['think_ms']:g} ms, {row['tasks']} tasks)"
            out.append(
                Verdict(
                    f"coordination efficiency >= {floor} at {agents}", row["efficiency"] >= floor, measured
                )
            )
    return out


GIT_TARGET_PER_S = 30.0  # merged commits/s with 64 workers on disjoint files


def _git(rows: Rows) -> list[Verdict]:
    out = []
    row = _pick(rows, agents=64, mix="disjoint")
    if row is not None:
        out.append(
            Verdict(
                f"git >= {GIT_TARGET_PER_S:g} merged/s at 64 on disjoint files",
                row["merged_per_s"] >= GIT_TARGET_PER_S,
                f"{row['merged_per_s']} (repository on {row.get('disk', '?')}; TMPDIR picks the disk)",
            )
        )
    full = [r for r in rows if r["mix"] in ("disjoint", "hot")]
    if full:
        lost = sum(r["lost_commits"] for r in rows)
        out.append(Verdict("git: 0 lost commits", lost == 0, str(lost)))
        worst = max(r["retries_per_task"] for r in full)
        out.append(Verdict("git: retries per merged task <= 1", worst <= 1, str(worst)))
    return out


def _baselines(rows: Rows) -> list[Verdict]:
    out = []
    locks = _pick(rows, design="locks", agents=20)
    if locks is not None:
        eff = locks["effective_agents"]
        out.append(Verdict("locks: about 2-3 effective agents of 20", 1.5 <= eff <= 3.5, str(eff)))
    for r in rows:
        if r["vs"] and r["agents"] >= 20 and r["shipyard_ratio"] is not None:
            ratio = r["shipyard_ratio"]
            out.append(Verdict(f"Shipyard beats {r['design']} at {r['agents']}", ratio > 1, f"x{ratio}"))
    return out


CACHE_SHARE_TARGET = 0.85  # of a 40-step worker session's prompt tokens, read from cache
SAVING_TARGET_X = 3.0  # cost per task with caching off / as sent (Anthropic, list prices)


def _tokens(rows: Rows) -> list[Verdict]:
    out = []
    for r in rows:
        share = r["cache_share"]
        target = f"tokens: >= {CACHE_SHARE_TARGET:.0%} of prompt tokens from cache ({r['provider']})"
        out.append(Verdict(target, share >= CACHE_SHARE_TARGET, f"{share:.1%}"))
        rebuilt = f"{r['rebuilds']} rebuilds for {r['compactions']} compactions"
        out.append(
            Verdict(
                f"tokens: one cache rebuild per compaction at most ({r['provider']})",
                r["rebuilds"] <= r["compactions"],
                rebuilt,
            )
        )
        if r["provider"] == "anthropic":
            saving = f"x{r['saving_x']} (${r['cost_usd']} vs ${r['cost_uncached_usd']} per task)"
            out.append(
                Verdict(
                    f"tokens: cost >= {SAVING_TARGET_X:g}x lower with caching (anthropic)",
                    r["saving_x"] >= SAVING_TARGET_X,
                    saving,
                )
            )
    return out


GATEWAY_ADDED_MS = 5.0  # per call, p50, and on the first byte of a stream


def _gateway(rows: Rows) -> list[Verdict]:
    out = []
    for direct in (r for r in rows if r["path"] == "direct"):
        through = _pick(rows, path="gateway", agents=direct["agents"])
        if through is None:
            continue
        for key, what in (("total_p50_ms", "p50 per call"), ("first_byte_p50_ms", "first byte p50")):
            added = through[key] - direct[key]
            measured = f"+{added:.2f} ms ({direct[key]} direct, {through[key]} through the gateway)"
            target = f"gateway: {what} adds <= {GATEWAY_ADDED_MS:g} ms at {direct['agents']} agents"
            out.append(Verdict(target, added <= GATEWAY_ADDED_MS, measured))
    return out


def _pathologies(rows: Rows) -> list[Verdict]:
    if not rows:
        return []
    missed = [r["pathology"] for r in rows if not (r["detected"] and r["contained"])]
    measured = f"{len(rows) - len(missed)} of {len(rows)}" + (f"; not: {', '.join(missed)}" if missed else "")
    return [Verdict("every pathology detected and contained", not missed, measured)]


CLUSTER_VS_LOCAL = 0.9  # Ray's efficiency over the local run's
TRANSPORT_MS = 100.0  # p50 per task, each way


def _cluster(rows: Rows) -> list[Verdict]:
    out = []
    ray = next((r for r in rows if r.get("vs_local") is not None), None)
    if ray is not None:
        measured = f"{ray['vs_local']} (efficiency {ray['efficiency']} on Ray, {ray['workers']} workers)"
        out.append(
            Verdict(
                f"cluster: efficiency >= {CLUSTER_VS_LOCAL} of local",
                ray["vs_local"] >= CLUSTER_VS_LOCAL,
                measured,
            )
        )
        for key, what in (
            ("wait_out_p50", "code out, per task"),
            ("back_p50", "commit back, per task"),
            ("ship_p50", "one shipment to a node"),
        ):
            value = ray.get(key)
            if value is not None:
                out.append(
                    Verdict(
                        f"cluster: {what} p50 <= {TRANSPORT_MS:g} ms", value <= TRANSPORT_MS, f"{value} ms"
                    )
                )
    for fault in (r for r in rows if r.get("done") is not None):
        whole = fault["done"] == fault["tasks"] and fault["lost_commits"] == 0 and fault["merged_twice"] == 0
        measured = (
            f"{fault['run']}: {fault['done']} of {fault['tasks']} done, {fault['lost_commits']} lost, "
            f"{fault['merged_twice']} merged twice"
        )
        out.append(
            Verdict(
                "cluster: a node killed mid-run loses nothing", whole and "killed" in fault["run"], measured
            )
        )
    return out


CHECKS: dict[str, Callable[[Rows], list[Verdict]]] = {
    "coordination": _coordination,
    "git": _git,
    "baselines": _baselines,
    "tokens": _tokens,
    "pathologies": _pathologies,
    "gateway": _gateway,
    "cluster": _cluster,
}


def verdicts(results: dict[str, Rows]) -> list[Verdict]:
    """Every target that the scenarios run can speak to."""
    return [v for name, check in CHECKS.items() for v in check(results.get(name, []))]
