"""The problems view: what a person should look at first, worst first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shipyard.domain import Task, TaskStatus
from shipyard.report.fold import RunFold

NEAR_END = 0.8  # a budget this much used is near its end
_SEVERITY = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class BudgetLimits:
    """The run's budgets (0 = none), as `[budget]` in shipyard.toml sets them."""

    usd: float = 0.0
    tokens: int = 0
    wall_time_s: float = 0.0


def ago(seconds: float) -> str:
    """`42s`, `5m`, `3h12m`: a short human duration."""
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def budget_use(fold: RunFold, limits: BudgetLimits | None, now: float) -> dict[str, dict[str, float]]:
    """Each budget that is set: its limit, what is used and the fraction."""
    if limits is None:
        return {}
    wall = now - fold.started_at if fold.started_at else 0.0
    pairs = {"usd": (limits.usd, fold.cost_usd), "tokens": (limits.tokens, fold.tokens)}
    pairs["wall_time_s"] = (limits.wall_time_s, wall)
    return {
        name: {"limit": limit, "used": round(used, 6), "fraction": round(used / limit, 4)}
        for name, (limit, used) in pairs.items()
        if limit
    }


def _problem(kind: str, severity: str, text: str, **where: Any) -> dict[str, Any]:
    return {"kind": kind, "severity": severity, "text": text, **where}


def _health(fold: RunFold, now: float) -> list[dict[str, Any]]:
    last = fold.health.last
    if last is None or last.get("passed"):
        return []
    green = fold.health.last_green_at
    since = f"green {ago(now - green)} ago" if green else "never green in this run"
    sha = str(last.get("sha") or "")[:10]
    text = f"the shared branch is red: the check failed on {sha} (exit {last.get('exit_code')}); {since}"
    spells = fold.health.spells
    if spells.red:
        spell = spells.spells[-1]
        if spell["culprit"]:
            text += f"; culprit: the merge of #{spell['culprit_task']} ({str(spell['culprit'])[:10]})"
        if spell["fixes"]:
            text += f"; fix: {', '.join(f'#{i}' for i in spell['fixes'])}"
    return [_problem("branch_red", "error", text)]


def _agents(agents: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for a in agents:
        if a["stalled"]:
            on = f" on #{a['task_id']}" if a["task_id"] is not None else ""
            text = f"{a['name']} has shown no sign of life for {ago(a['quiet_s'])}{on} ({a['state']})"
            out.append(_problem("agent_stalled", "warning", text, agent=a["name"], task_id=a["task_id"]))
    return out


def _tasks(fold: RunFold, tasks: Sequence[Task]) -> list[dict[str, Any]]:
    out = []
    for t in tasks:
        figures = fold.tasks.get(t.id)
        why = figures.last_setback if figures else (t.notes[-1] if t.notes else "")
        if t.status is TaskStatus.FAILED:
            text = f"task #{t.id} {t.title!r} failed after {t.attempts} attempts: {why}"
            out.append(_problem("task_failed", "error", text, task_id=t.id))
        elif not t.is_final and figures is not None and figures.setbacks >= 2:
            text = f"task #{t.id} {t.title!r} has come back {figures.setbacks} times: {why}"
            out.append(_problem("task_retried", "warning", text, task_id=t.id))
    return out


def _budget(use: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    out = []
    for name, row in use.items():
        if row["fraction"] >= NEAR_END:
            severity = "error" if row["fraction"] >= 1 else "warning"
            text = f"budget {name}: {row['fraction']:.0%} used ({row['used']:g} of {row['limit']:g})"
            out.append(_problem("budget", severity, text, budget=name))
    return out


def _other(fold: RunFold, control: str) -> list[dict[str, Any]]:
    out = []
    if fold.checkout_behind:
        out.append(_problem("checkout_behind", "warning", f"your checkout is behind: {fold.checkout_behind}"))
    for crash in fold.crashes[-3:]:
        text = f"{crash.agent} crashed: {str(crash.data.get('error', ''))[:200]}"
        out.append(_problem("agent_crashed", "warning", text, agent=crash.agent, task_id=crash.task_id))
    if control == "pause":
        out.append(_problem("paused", "info", "the run is paused: `shipyard unpause` lets it go on"))
    elif control == "stop":
        out.append(_problem("stopping", "info", "a stop was asked for: the fleet is winding down"))
    return out


def find_problems(
    fold: RunFold,
    tasks: Sequence[Task],
    agents: Sequence[dict[str, Any]],
    budget: dict[str, dict[str, float]],
    control: str,
    now: float,
) -> list[dict[str, Any]]:
    """Every problem, errors first: a red branch, failed or retried tasks, stalls, budgets."""
    found = [*_health(fold, now), *_tasks(fold, tasks), *_agents(agents), *_budget(budget)]
    found += _other(fold, control)
    return sorted(found, key=lambda p: _SEVERITY[p["severity"]])
