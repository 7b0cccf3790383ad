"""Commands to watch and steer a run: dashboard, steer, pause, unpause, stop, task, logs, report.

`register` adds them to the app; `serve_alongside` runs the dashboard beside `shipyard run --dashboard`.
The web server and the plotting library load only in the commands that use them (they are slow to import).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from shipyard.board.sqlite import SqliteBoard
from shipyard.cli.build import open_board
from shipyard.cli.checks import BOARD_FILE
from shipyard.config import ShipyardConfig, load_config
from shipyard.errors import UserError
from shipyard.fleet.ledger import TRANSCRIPT_KINDS
from shipyard.fleet.runtime import Runtime
from shipyard.fleet.status import STALL_S, StatusOptions
from shipyard.git import GitRepo
from shipyard.report.problems import BudgetLimits
from shipyard.report.transcript import format_event
from shipyard.web import control

DEFAULT_PORT = 8765
_FOLLOW_S = 0.5
out = Console(highlight=False, soft_wrap=True)
Guarded = Callable[[Callable[..., Any]], Callable[..., Any]]
PathArg = Annotated[Path, typer.Argument(help="The target git repository.")]


def status_options(config: ShipyardConfig | None, stall_s: float | None = None) -> StatusOptions:
    """Budgets from the config; busy agents count as stalled at half the fleet's own stall limit."""
    if config is None:
        return StatusOptions(None, stall_s or STALL_S)
    b = config.budget
    budget = BudgetLimits(usd=b.usd, tokens=b.tokens, wall_time_s=b.wall_time_s)
    return StatusOptions(budget, stall_s or min(STALL_S, config.fleet.stall_s / 2))


def _options(repo: GitRepo, stall_s: float | None = None) -> StatusOptions:
    """Status options from the repository's shipyard.toml, when it reads cleanly."""
    try:
        config: ShipyardConfig | None = load_config(repo.root)
    except UserError:
        config = None
    return status_options(config, stall_s)


@contextmanager
def serve_alongside(rt: Runtime, port: int | None, emit: Callable[[str], None]) -> Iterator[None]:
    """Serve the dashboard on 127.0.0.1 while the body runs (nothing when `port` is None)."""
    if port is None:
        yield
        return
    from shipyard.web.app import DashboardOptions, create_app
    from shipyard.web.server import DashboardServer

    board = SqliteBoard(rt.state_dir / BOARD_FILE)
    options = DashboardOptions(status=status_options(rt.config))
    try:
        server = DashboardServer(create_app(board, options), "127.0.0.1", port)
    except UserError:
        board.close()
        raise
    emit(f"dashboard: {server.url}")
    server.start()
    try:
        yield
    finally:
        server.stop()
        board.close()
        emit(f"dashboard stopped; `shipyard dashboard {rt.repo.root}` shows the run again")


def dashboard(
    path: PathArg = Path("."),
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="Address to bind; beyond loopback a --token is required.")] = (
        "127.0.0.1"
    ),
    token: Annotated[
        str | None, typer.Option(envvar="SHIPYARD_DASHBOARD_TOKEN", help="Secret every request must carry.")
    ] = None,
    stall_s: Annotated[
        float | None,
        typer.Option(min=1, help="Flag busy agents silent this long (default: from the config)."),
    ] = None,
) -> None:
    """Serve the live dashboard of a run (running or finished) until Ctrl-C."""
    from shipyard.web.app import DashboardOptions, create_app
    from shipyard.web.security import Guard, is_loopback
    from shipyard.web.server import DashboardServer, check_binding

    repo = GitRepo.open(path)
    check_binding(host, token)
    board = open_board(repo)
    guard = Guard(token=token or None, loopback_only=is_loopback(host) and not token)
    options = DashboardOptions(status=_options(repo, stall_s), guard=guard)
    try:
        server = DashboardServer(create_app(board, options), host, port)
        out.print(f"dashboard of {repo.root}: {server.url}" + (f"?token={token}" if token else ""))
        out.print("Ctrl-C stops it")
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        board.close()


def _with_board(path: Path, change: Callable[[SqliteBoard], str]) -> None:
    board = open_board(GitRepo.open(path))
    try:
        out.print(change(board))
    finally:
        board.close()


def steer(
    words: Annotated[
        list[str], typer.Argument(metavar="[PATH] MESSAGE", help="Repository (optional), message.")
    ],
) -> None:
    """Add guidance that the planners read on their next turn."""
    if len(words) > 2:
        raise UserError('give the message as one argument in quotes: shipyard steer [PATH] "message"')
    path, message = (Path(words[0]), words[1]) if len(words) == 2 else (Path("."), words[0])
    _with_board(
        path, lambda b: f"steering added (event {control.steer(b, message).id}); planners read it next"
    )


def pause(path: PathArg = Path(".")) -> None:
    """Stop claiming new tasks; running agents finish what they are doing."""
    _with_board(
        path, lambda b: f"paused (event {control.control(b, 'pause').id}); `shipyard unpause` goes on"
    )


def unpause(path: PathArg = Path(".")) -> None:
    """Let a paused run claim tasks again."""
    _with_board(path, lambda b: f"unpaused (event {control.control(b, 'unpause').id})")


def stop(path: PathArg = Path(".")) -> None:
    """Ask the run to stop gracefully: no new tasks, agents wind down, then it ends."""
    _with_board(path, lambda b: f"stop requested (event {control.control(b, 'stop').id})")


def task_cancel(
    task_id: Annotated[int, typer.Argument(metavar="ID")],
    path: PathArg = Path("."),
    reason: Annotated[str, typer.Option(help="Why; the planner sees it.")] = "",
) -> None:
    """Cancel a task that is open or claimed."""
    _with_board(path, lambda b: f"task {task_id} {control.cancel_task(b, task_id, reason).status.value}")


def task_priority(
    task_id: Annotated[int, typer.Argument(metavar="ID")],
    priority: Annotated[int, typer.Argument(metavar="N", help="Higher is claimed first.")],
    path: PathArg = Path("."),
) -> None:
    """Give an open or claimed task a new priority."""
    _with_board(
        path, lambda b: f"task {task_id} priority {control.set_priority(b, task_id, priority).spec.priority}"
    )


def logs(
    path: PathArg = Path("."),
    agent: Annotated[str | None, typer.Option(help="Only this agent, e.g. worker-2 or planner.")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new turns until Ctrl-C.")
    ] = False,
    full: Annotated[bool, typer.Option("--full", help="Print prompts and long texts whole.")] = False,
) -> None:
    """Print agents' transcripts: prompts, model replies, tool calls and results (secrets redacted)."""
    board = open_board(GitRepo.open(path))
    since = 0
    try:
        while True:
            for event in board.events(since=since):
                since = event.id
                if event.kind in TRANSCRIPT_KINDS and (agent is None or event.agent == agent):
                    out.print(format_event(event, full), markup=False)
            if not follow:
                return
            time.sleep(_FOLLOW_S)
    except KeyboardInterrupt:
        pass
    finally:
        board.close()


def report(
    path: PathArg = Path("."),
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder to write (default .shipyard/report).")
    ] = None,
) -> None:
    """Write an HTML report of the run with PNG plots and a table of tasks."""
    from shipyard.report.html import write_report

    repo = GitRepo.open(path)
    board = open_board(repo)
    target = out_dir or repo.root / ".shipyard" / "report"
    try:
        files = write_report(board, target, _options(repo))
    finally:
        board.close()
    out.print(f"wrote {files.index} with {len(files.plots)} plots")


def register(app: typer.Typer, guarded: Guarded) -> None:
    """Add the commands to the CLI; `guarded` turns user errors into one line and exit code 2."""
    for command in (dashboard, steer, pause, unpause, stop, logs, report):
        app.command()(guarded(command))
    task_app = typer.Typer(no_args_is_help=True, help="Change one task: cancel it or give it a new priority.")
    task_app.command("cancel")(guarded(task_cancel))
    task_app.command("priority")(guarded(task_priority))
    app.add_typer(task_app, name="task")
