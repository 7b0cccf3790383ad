"""Commands: init, run, status, demo. User errors print one line and exit 2."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from shipyard.cli.attempts import kept_summary
from shipyard.cli.attempts import register as register_attempts
from shipyard.cli.bench import register as register_bench
from shipyard.cli.build import build_runtime, open_board
from shipyard.cli.checks import run_state
from shipyard.cli.demo import run_demo
from shipyard.cli.doctor import register as register_doctor
from shipyard.cli.nodes import node_summary
from shipyard.cli.observe import DEFAULT_PORT, register, serve_alongside
from shipyard.cli.preflight import preflight
from shipyard.cli.progress import status_view
from shipyard.cli.sandbox import register as register_sandbox
from shipyard.cli.session import run_fleet, summary_lines
from shipyard.cli.template import InitValues, render
from shipyard.config import CONFIG_NAME, Overrides, ShipyardConfig
from shipyard.errors import ConfigError, UserError
from shipyard.fleet import settings
from shipyard.fleet.run import RunResult
from shipyard.fleet.status import run_status
from shipyard.git import GitRepo

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Run a fleet of LLM coding agents on a git repository."
)
out = Console(highlight=False, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])
# `--chaos` without a [chaos] table: a fifth of model calls fail, a tenth of workers die, some git calls fail.
CHAOS_PRESET = {"model_error_rate": 0.2, "worker_death_rate": 0.1, "git_error_rate": 0.05, "seed": 1}

PathArg = Annotated[Path, typer.Argument(help="The target git repository.")]
EngineOpt = Annotated[
    str | None, typer.Option(help="Where workers run: local or ray (over shipyard.toml's cluster engine).")
]
AddressOpt = Annotated[
    str | None, typer.Option(help="The Ray cluster: auto, local, HOST:PORT or ray://HOST:PORT.")
]


def user_errors(fn: F) -> F:
    """Turn a `UserError` into one line on stderr and exit code 2; anything else keeps its traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            for line in str(exc).splitlines():
                typer.echo(f"shipyard: error: {line}", err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@app.command()
@user_errors
def init(
    path: PathArg = Path("."),
    goal: Annotated[str, typer.Option(help="What the fleet should achieve.")] = "",
    goal_file: Annotated[str, typer.Option(help="A file in the repository that holds the goal.")] = "",
    check: Annotated[str, typer.Option(help="The project's check command, e.g. 'pytest -q'.")] = "",
    workers: Annotated[int, typer.Option(min=1, max=1024)] = 4,
    branch: Annotated[str, typer.Option(help="The shared branch.")] = "main",
) -> None:
    """Write a commented shipyard.toml into a git repository."""
    repo = GitRepo.open(path)
    target = repo.root / CONFIG_NAME
    if target.exists():
        raise ConfigError(f"{target} already exists; edit it, or delete it to start over")
    text = render(InitValues(goal, check, workers, branch, goal_file=goal_file))
    target.write_text(text, encoding="utf-8")
    out.print(f"wrote {target}; set the goal, check command and models, then run `shipyard run {repo.root}`")


@app.command()
@user_errors
def run(
    path: PathArg = Path("."),
    goal: Annotated[str | None, typer.Option(help="Goal text (overrides shipyard.toml).")] = None,
    goal_file: Annotated[Path | None, typer.Option(help="Read the goal from this file.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=1024, help="Workers in parallel.")] = None,
    model: Annotated[
        list[str] | None, typer.Option(help="ROLE=PROVIDER:MODEL, repeatable; or one for all.")
    ] = None,
    max_cycles: Annotated[int | None, typer.Option(min=1)] = None,
    new: Annotated[
        bool, typer.Option("--new", help="Archive an unfinished run's board and start over.")
    ] = False,
    chaos: Annotated[bool, typer.Option("--chaos", help="Inject seeded faults (see [chaos]).")] = False,
    dashboard: Annotated[
        bool, typer.Option("--dashboard", help="Serve the live dashboard on 127.0.0.1 while it runs.")
    ] = False,
    dashboard_port: Annotated[int, typer.Option(min=0, max=65535)] = DEFAULT_PORT,
    engine: EngineOpt = None,
    address: AddressOpt = None,
) -> None:
    """Run the fleet on a repository until the judge says done or a limit is reached."""
    overrides = _overrides(goal, goal_file, workers, max_cycles, model, chaos)
    overrides = replace(overrides, engine=engine, address=address)
    checked = preflight(path, overrides, os.environ, unfinished_ok=new)
    rt = build_runtime(checked, os.environ, fresh=new)
    with serve_alongside(rt, dashboard_port if dashboard else None, out.print):
        result, status = run_fleet(rt, out.print, console=out)
    _finish(result, status)


@app.command()
@user_errors
def status(
    path: PathArg = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show the state of the run: tasks by status, merges, cycles, tokens and cost."""
    repo = GitRepo.open(path)
    board = open_board(repo)
    try:
        data = run_status(board)
        data["nodes"] = node_summary(board)
    finally:
        board.close()
    data["attempts"] = kept_summary(repo)
    if as_json:
        print(json.dumps(data, indent=2))
        return
    out.print(status_view(data))


@app.command()
@user_errors
def demo(
    dir: Annotated[
        Path | None, typer.Option("--dir", help="Where to create the sample project (new or empty).")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 4,
) -> None:
    """Build a small sample project with a scripted fleet: no LLM, no API key."""
    code = run_demo(dir, workers, out.print)
    raise typer.Exit(code)


@app.command()
@user_errors
def resume(
    path: PathArg = Path("."),
    goal: Annotated[str | None, typer.Option(help="Goal text (overrides the run's own).")] = None,
    goal_file: Annotated[Path | None, typer.Option(help="Read the goal from this file.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=1024, help="Workers in parallel.")] = None,
    model: Annotated[
        list[str] | None, typer.Option(help="ROLE=PROVIDER:MODEL, repeatable; or one for all.")
    ] = None,
    max_cycles: Annotated[int | None, typer.Option(min=1)] = None,
    chaos: Annotated[bool, typer.Option("--chaos", help="Inject seeded faults (see [chaos]).")] = False,
    dashboard: Annotated[
        bool, typer.Option("--dashboard", help="Serve the live dashboard on 127.0.0.1 while it runs.")
    ] = False,
    dashboard_port: Annotated[int, typer.Option(min=0, max=65535)] = DEFAULT_PORT,
    engine: EngineOpt = None,
    address: AddressOpt = None,
) -> None:
    """Continue an unfinished run after a crash, a kill or a stop, with the settings it was started with
    (flags given here win): reconcile board and git, then go on."""
    repo = GitRepo.open(path)
    state = run_state(repo)
    if not state:
        raise UserError(f"no run to resume in {repo.root}; start one with `shipyard run {repo.root}`")
    if state == "done":
        out.print(f"the run in {repo.root} is already done; nothing to resume")
        return
    overrides = _overrides(goal, goal_file, workers, max_cycles, model, chaos)
    overrides = replace(overrides, engine=engine, address=address)
    notes: list[str] = []

    def run_settings(root: Path, given: Overrides) -> ShipyardConfig:
        """The run's own stored settings (flags win), noting where they differ from shipyard.toml."""
        board = open_board(repo)
        try:
            config, lines = settings.resumed(board, root, given)
        finally:
            board.close()
        notes.extend(lines)
        return config

    checked = preflight(repo.root, overrides, os.environ, unfinished_ok=True, load=run_settings)
    for line in notes:
        out.print(line)
    rt = build_runtime(checked, os.environ)
    with serve_alongside(rt, dashboard_port if dashboard else None, out.print):
        result, status = run_fleet(rt, out.print, resume=True, console=out)
    _finish(result, status)


def _overrides(
    goal: str | None,
    goal_file: Path | None,
    workers: int | None,
    max_cycles: int | None,
    model: list[str] | None,
    chaos: bool,
) -> Overrides:
    """The flags `run` and `resume` share."""
    extra = {"chaos": CHAOS_PRESET} if chaos else {}
    return Overrides(goal, goal_file, workers, max_cycles, tuple(model or ()), extra)


def _finish(result: RunResult, status: dict[str, Any]) -> None:
    """Print the summary; exit 0 when done, 1 when stopped, 2 (one line) when a fault no retry fixes."""
    for line in summary_lines(result, status):
        out.print(line)
    if result.state == "failed":
        raise UserError(f"the run stopped: {result.reason}")
    raise typer.Exit(0 if result.state == "done" else 1)


register(app, user_errors)
register_sandbox(app, user_errors)
register_bench(app, user_errors)
register_doctor(app, user_errors)
register_attempts(app, user_errors)


def main() -> None:
    app()
