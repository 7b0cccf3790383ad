"""The report's PNG plots, drawn with matplotlib's object API (no pyplot, no global state, no display)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from shipyard.report.timeline import Timeline

_SIZE = (7.5, 3.2)
_DPI = 110
GREEN, RED, BLUE, AMBER = "#2e7d32", "#c62828", "#1565c0", "#b26a00"


def _unit(span_s: float) -> tuple[float, str]:
    return (60.0, "minutes since the run started") if span_s > 180 else (1.0, "seconds since the run started")


def _cumulative(ax: Axes, times: Sequence[float], scale: float, span: float, **style: Any) -> None:
    """A step line counting up at each time, from 0 at the start to the end of the run."""
    xs = [0.0, *sorted(times), span]
    ys = [0, *range(1, len(times) + 1), len(times)]
    ax.step([x / scale for x in xs], ys, where="post", **style)


def _figure(title: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=_SIZE, dpi=_DPI, layout="constrained")
    ax = fig.subplots()
    ax.set_title(title, loc="left", fontsize=11)
    ax.grid(alpha=0.3)
    return fig, ax


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, format="png")
    return path


def progress_plot(line: Timeline, path: Path) -> Path:
    """Tasks done and commits merged over time."""
    fig, ax = _figure("Tasks done and commits merged")
    scale, label = _unit(line.span_s)
    span = line.span_s
    _cumulative(ax, line.done, scale, span, color=BLUE, label=f"tasks done ({len(line.done)})")
    _cumulative(ax, line.merged, scale, span, color=GREEN, label=f"commits merged ({len(line.merged)})")
    ax.set_xlabel(label)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left")
    return _save(fig, path)


def conflicts_plot(line: Timeline, path: Path) -> Path:
    """Merge conflicts over time."""
    fig, ax = _figure(f"Merge conflicts ({len(line.conflicts)})")
    scale, label = _unit(line.span_s)
    _cumulative(ax, line.conflicts, scale, line.span_s, color=AMBER)
    ax.set_xlabel(label)
    ax.set_ylim(bottom=0, top=max(len(line.conflicts), 1) * 1.15)
    return _save(fig, path)


def health_plot(line: Timeline, path: Path) -> Path:
    """Every check of the shared branch: green when it passed, red when it failed."""
    fig, ax = _figure("Health of the shared branch (the check after merges)")
    scale, label = _unit(line.span_s)
    if line.checks:
        xs = [t / scale for t, _ in line.checks]
        ys = [1 if ok else 0 for _, ok in line.checks]
        ax.step(xs, ys, where="post", color="#888888", linewidth=1)
        ax.scatter(xs, ys, c=[GREEN if ok else RED for _, ok in line.checks], s=36, zorder=3)
    else:
        ax.text(0.5, 0.5, "no check ran", ha="center", va="center", transform=ax.transAxes)
    ax.set_yticks([0, 1], ["failed", "passed"])
    ax.set_ylim(-0.3, 1.3)
    ax.set_xlim(0, max(line.span_s / scale, 1e-3) * 1.02)
    ax.set_xlabel(label)
    return _save(fig, path)


def cost_plot(by_role: dict[str, dict[str, Any]], path: Path) -> Path:
    """Cost and tokens by role, side by side."""
    fig = Figure(figsize=_SIZE, dpi=_DPI, layout="constrained")
    cost_ax, token_ax = fig.subplots(1, 2)
    roles = list(by_role) or ["(none)"]
    costs = [float(by_role.get(r, {}).get("cost_usd", 0.0)) for r in roles]
    tokens = [int(by_role.get(r, {}).get("tokens", 0)) for r in roles]
    cost_ax.barh(roles, costs, color=BLUE)
    cost_ax.set_title("Cost by role (USD)", loc="left", fontsize=11)
    if not any(costs):
        cost_ax.text(0.5, 0.5, "no cost recorded", ha="center", va="center", transform=cost_ax.transAxes)
    token_ax.barh(roles, tokens, color=GREEN)
    token_ax.set_title("Tokens by role", loc="left", fontsize=11)
    for ax in (cost_ax, token_ax):
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlim(left=0)
    return _save(fig, path)
