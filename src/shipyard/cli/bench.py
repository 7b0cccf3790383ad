"""`shipyard bench`: coordination at scale, measured on simulated fleets, against designs that failed."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from shipyard.bench.plot import write_plot
from shipyard.bench.report import table, write_json
from shipyard.bench.suite import configure, run_bench
from shipyard.bench.targets import verdicts
from shipyard.errors import ConfigError

out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _numbers(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--agents `{text}`: expected fleet sizes like 1,4,16") from None
    if not sizes or min(sizes) < 1 or max(sizes) > 4096:
        raise ConfigError(f"--agents `{text}`: sizes must be between 1 and 4096")
    return sizes


def bench(
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            help="coordination, git[:MIX,...], baselines[:DESIGN,...], pathologies[:NAME,...], "
            "tokens[:PROVIDER,...], gateway or cluster (needs the ray extra; not in the default); "
            "repeatable; default all but cluster."
        ),
    ] = None,
    agents: Annotated[str, typer.Option(help="Fleet sizes for every chosen scenario, e.g. 1,4,16.")] = "",
    think_ms: Annotated[float | None, typer.Option(min=0, help="Simulated think time per task.")] = None,
    tasks_per_agent: Annotated[int | None, typer.Option(min=1, help="Tasks per agent in each run.")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write every row here as JSON.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of throughput against fleet size.")] = None,
) -> None:
    """Measure coordination at scale: simulated fleets, real git, and the designs that failed."""
    sizes = _numbers(agents) if agents else []
    options = configure(scenario or [], sizes, think_ms, tasks_per_agent)
    results = run_bench(options, out.print)
    for name, rows in results.items():
        out.print(table(name, rows))
    for v in verdicts(results):
        out.print(f"{'met   ' if v.met else 'MISSED'}  {v.target}: {v.measured}")
    if json_file is not None:
        write_json(json_file, results)
        out.print(f"wrote {json_file}")
    if plot is not None:
        write_plot(plot, results)
        out.print(f"wrote {plot}")


def register(app: typer.Typer, guarded: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Add `bench` to the CLI; `guarded` turns user errors into one line and exit code 2."""
    app.command("bench")(guarded(bench))
