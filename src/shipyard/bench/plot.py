"""A PNG of throughput against fleet size, one panel per scenario run (matplotlib, no display needed)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from shipyard.bench.targets import GIT_TARGET_PER_S

Rows = list[dict[str, Any]]

# scenario -> (series key, y value, y label)
_PANELS = {
    "coordination": ("", "tasks_per_s", "tasks/s"),
    "git": ("mix", "merged_per_s", "merged commits/s"),
    "baselines": ("design", "tasks_per_s", "tasks/s"),
}


def write_plot(path: Path, results: dict[str, Rows]) -> None:
    """Throughput against agents, log-log, with the ideal (linear) line for coordination."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    shown = [name for name in _PANELS if results.get(name)]
    fig, axes = plt.subplots(1, max(1, len(shown)), figsize=(5.5 * max(1, len(shown)), 4.5), squeeze=False)
    for ax, name in zip(axes[0], shown, strict=False):
        _panel(ax, name, results[name])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _panel(ax: Any, name: str, rows: Rows) -> None:
    key, value, label = _PANELS[name]
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for row in rows:
        series[str(row.get(key, name)) if key else "shipyard"].append((row["agents"], row[value]))
    for label_, points in series.items():
        ordered = sorted(points)
        ax.plot([p[0] for p in ordered], [p[1] for p in ordered], marker="o", label=label_)
    if name == "coordination" and rows:
        one = min(rows, key=lambda r: r["agents"])
        sizes = sorted(r["agents"] for r in rows)
        ideal = [one[value] * x / one["agents"] for x in sizes]
        ax.plot(sizes, ideal, linestyle="--", color="grey", label="ideal")
    if name == "git" and rows:
        ax.axhline(GIT_TARGET_PER_S, linestyle=":", color="grey", label="target at 64 (disjoint)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("agents")
    ax.set_ylabel(label)
    ax.set_title(name)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
