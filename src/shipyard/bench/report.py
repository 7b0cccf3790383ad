"""The benchmark's output: one table per scenario (Rich renderables, printed by the CLI) and the JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

Rows = list[dict[str, Any]]

TITLES = {
    "coordination": "coordination: scheduler + SQLite board, simulated workers, no git",
    "git": "git: worktrees, commits and merges on a real shared branch (merge_*: the merge path alone)",
    "baselines": "baselines: the same workload run by designs that failed (ratio = Shipyard / design)",
    "tokens": "tokens: one 40-step worker session over HTTP, billed by the providers' caching rules",
    "gateway": "gateway: streamed calls of many agents at once, direct and through the model gateway",
    "pathologies": "pathologies: what goes wrong quietly in long runs, staged on small real fleets",
    "cluster": "cluster: one sim fleet locally and on 3 local Ray nodes (ms per task; ship: per shipment)",
}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def table(scenario: str, rows: Rows) -> Table:
    """A table of one scenario's rows, columns in row order."""
    out = Table(title=TITLES.get(scenario, scenario), title_justify="left")
    columns = list(rows[0]) if rows else []
    for name in columns:
        left = name in (
            "mix",
            "design",
            "vs",
            "provider",
            "model",
            "pathology",
            "work_lost",
            "signal",
            "path",
            "run",
        )
        out.add_column(name, justify="left" if left else "right")
    for row in rows:
        out.add_row(*(_cell(row.get(name)) for name in columns))
    return out


def write_json(path: Path, results: dict[str, Rows]) -> None:
    """One top-level key per scenario run, each a list of rows."""
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
