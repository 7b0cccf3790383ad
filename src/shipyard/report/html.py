"""`shipyard report`: one static folder with `index.html`, its PNG plots and the data as JSON."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from shipyard.board.base import Board
from shipyard.fleet.status import StatusOptions, status_of
from shipyard.report.fold import RunFold
from shipyard.report.plots import conflicts_plot, cost_plot, health_plot, progress_plot
from shipyard.report.problems import ago
from shipyard.report.timeline import Timeline, task_rows, timeline, unattributed

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #1d1d1f; }
h1 { margin-bottom: .2rem; } .muted { color: #6b6b70; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; border: 1px solid #eee; margin: .3rem 0 1rem; }
.done { color: #2e7d32; } .failed { color: #c62828; } .cancelled { color: #6b6b70; }
li.error { color: #c62828; } li.warning { color: #b26a00; }
"""


@dataclass(frozen=True)
class ReportFiles:
    index: Path
    plots: tuple[Path, ...]
    data: Path


def write_report(board: Board, out: Path, options: StatusOptions | None = None) -> ReportFiles:
    """Write the report of the run on `board` into the folder `out` (created if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    events = board.events()
    fold = RunFold().feed(events)
    now = time.time()
    status = status_of(board, fold, options or StatusOptions(), now)
    line = timeline(events)
    plots = (
        progress_plot(line, out / "progress.png"),
        conflicts_plot(line, out / "conflicts.png"),
        health_plot(line, out / "health.png"),
        cost_plot(status["by_role"], out / "cost_by_role.png"),
    )
    rows = task_rows(board.tasks(), fold, now)
    data = out / "report.json"
    data.write_text(json.dumps({"status": status, "tasks": rows}, indent=1), encoding="utf-8")
    index = out / "index.html"
    index.write_text(_page(status, line, rows, fold, plots), encoding="utf-8")
    return ReportFiles(index, plots, data)


def _page(
    status: dict[str, Any], line: Timeline, rows: list[dict[str, Any]], fold: RunFold, plots: tuple[Path, ...]
) -> str:
    images = "\n".join(f'<img src="{escape(p.name)}" alt="{escape(p.stem)}">' for p in plots)
    made = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shipyard run report</title><style>{_CSS}</style></head>
<body>
<h1>Shipyard run report</h1>
<p class="muted">made {made}</p>
{_summary(status, line)}
{_problems(status["problems"])}
{_red_spells(status["health"])}
<h2>Plots</h2>
{images}
<h2>Cost by role</h2>
{_roles(status["by_role"], status.get("cache", {}).get("by_role", {}))}
<h2>Tasks</h2>
{_tasks(rows, fold)}
</body></html>
"""


def _summary(status: dict[str, Any], line: Timeline) -> str:
    tasks = ", ".join(f"{n} {escape(k)}" for k, n in status["tasks"].items())
    health = status["health"]
    last = health["last_check"]
    branch = "not checked" if last is None else ("green" if last["passed"] else "red")
    items = [
        ("state", f"{status['state']}: {status['reason']}"),
        ("cycles", str(status["cycles"])),
        ("time", ago(line.span_s)),
        ("tasks", tasks),
        ("commits merged", f"{status['merged_commits']} by {', '.join(status['authors']) or 'nobody'}"),
        ("merge conflicts", str(status["conflicts"])),
        ("shared branch", f"{branch} after {health['checks']} checks ({health['failures']} failed)"),
        ("tokens and cost", f"{status['tokens']:,} tokens, ${status['cost_usd']:.4f}"),
    ]
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in items)
    return f"<table>{cells}</table>"


def _red_spells(health: dict[str, Any]) -> str:
    """Each red spell of the shared branch: when, the culprit merge, the fix tasks, time to green."""
    spells = health.get("red_spells") or []
    if not spells:
        return ""
    rows = []
    for s in spells:
        culprit = f"{str(s['culprit'])[:10]} (#{s['culprit_task']})" if s["culprit"] else "not found"
        fixes = ", ".join(f"#{i}" for i in s["fixes"]) or "none"
        green = "still red" if s["red_s"] is None else f"green again after {ago(s['red_s'])}"
        cells = (str(s["sha"])[:10], culprit, fixes, green)
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    share = health.get("green_share_of_merges")
    head = "<tr><th>red at</th><th>culprit merge</th><th>fix tasks</th><th>outcome</th></tr>"
    note = "" if share is None else f"<p>{share:.0%} of merges landed on a green branch.</p>"
    return f"<h2>Red spells of the shared branch</h2><table>{head}{''.join(rows)}</table>{note}"


def _problems(problems: list[dict[str, Any]]) -> str:
    if not problems:
        return "<h2>Problems</h2><p>none</p>"
    items = "".join(f'<li class="{escape(p["severity"])}">{escape(p["text"])}</li>' for p in problems)
    return f"<h2>Problems</h2><ul>{items}</ul>"


def _roles(by_role: dict[str, dict[str, Any]], cache: dict[str, dict[str, Any]]) -> str:
    head = (
        '<tr><th>role</th><th class="num">tokens</th><th class="num">cost (USD)</th>'
        '<th class="num">cache hit</th><th class="num">cut replies</th></tr>'
    )
    body = "".join(
        f'<tr><td>{escape(r)}</td><td class="num">{v["tokens"]:,}</td>'
        f'<td class="num">{v["cost_usd"]:.4f}</td>'
        f'<td class="num">{cache.get(r, {}).get("hit_rate", 0.0):.1%}</td>'
        f'<td class="num">{cache.get(r, {}).get("cut_replies", 0)}</td></tr>'
        for r, v in by_role.items()
    )
    return f"<table>{head}{body}</table>"


def _tasks(rows: list[dict[str, Any]], fold: RunFold) -> str:
    head = (
        "<tr><th>#</th><th>task</th><th>kind</th><th>outcome</th><th class='num'>attempts</th>"
        "<th class='num'>time</th><th class='num'>tokens</th><th class='num'>cost (USD)</th></tr>"
    )
    body = "".join(_task_row(r) for r in rows)
    tokens, cost = unattributed(fold)
    body += (
        f"<tr><td></td><td>root planner and judge (no task)</td><td></td><td></td><td></td><td></td>"
        f'<td class="num">{tokens:,}</td><td class="num">{cost:.4f}</td></tr>'
    )
    return f'<table id="tasks">{head}{body}</table>'


def _task_row(r: dict[str, Any]) -> str:
    took = "" if r["time_s"] is None else ago(r["time_s"])
    show_note = r["outcome"] != "done" and r["note"]
    note = f'<br><span class="muted">{escape(r["note"])}</span>' if show_note else ""
    if r.get("kept_attempts"):
        kept = ", ".join(map(str, r["kept_attempts"]))
        note += (
            f'<br><span class="muted">kept attempts {kept}: <code>shipyard attempts {r["id"]}</code></span>'
        )
    return (
        f"<tr><td>{r['id']}</td><td>{escape(r['title'])}{note}</td><td>{escape(r['kind'])}</td>"
        f'<td class="{escape(r["outcome"])}">{escape(r["outcome"])}</td><td class="num">{r["attempts"]}</td>'
        f'<td class="num">{took}</td><td class="num">{r["tokens"]:,}</td>'
        f'<td class="num">{r["cost_usd"]:.4f}</td></tr>'
    )
