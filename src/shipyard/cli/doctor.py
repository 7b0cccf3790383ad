"""`shipyard doctor [PATH]`: what this machine and this repository offer a run, and the fix for what is off.

Exit 0 when a configured run can start here, 1 otherwise. Offline by default; `--online` sends one tiny
request per configured provider model to check the key, the model id and the base URL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shipyard.cli import diagnose
from shipyard.cli.diagnose import Row
from shipyard.cli.preflight import provider_settings
from shipyard.config import Overrides, ShipyardConfig
from shipyard.errors import UserError
from shipyard.models.base import Message, ModelRequest
from shipyard.models.factory import HTTP_PROVIDERS, build_provider_model, parse_model_string

STYLE = {"ok": "green", "warning": "yellow", "missing": "red"}
ONLINE_TIMEOUT_S = 30.0


def examine(
    path: Path, env: Mapping[str, str], online: bool = False, overrides: Overrides | None = None
) -> list[Row]:
    """Every check, in the order a person would fix them: the tools, then the repository and its config
    (with `overrides`, the flags `run` would be given)."""
    rows = [*diagnose.python_rows(), *diagnose.git_rows()]
    repo_rows, repo = diagnose.repo_rows(path)
    rows += repo_rows
    root = repo.root if repo else Path(path).expanduser()
    config_rows, config = diagnose.config_rows(root, overrides)
    rows += config_rows
    rows += diagnose.sandbox_rows(config)
    if config is not None:
        rows += diagnose.model_rows(config, env)
        rows += diagnose.cli_rows(config, env)
        rows += diagnose.cli_env_rows(config, env)
        if config.cluster.engine == "ray":  # Ray is imported only then
            from shipyard.cluster.doctor import cluster_rows

            rows += cluster_rows(config)
        if online:
            rows += online_rows(config, env)
    if repo is not None:
        rows += diagnose.branch_rows(repo, config) if config is not None else []
        rows += diagnose.state_rows(repo)
        rows += diagnose.disk_rows(repo.root)
    return rows


def online_rows(config: ShipyardConfig, env: Mapping[str, str]) -> list[Row]:
    """One tiny request per provider model: the key, the model id and the base URL, checked for real."""
    rows: list[Row] = []
    for text in diagnose.model_strings(config):
        ref = parse_model_string(text)
        if ref.provider not in HTTP_PROVIDERS:
            continue
        settings = provider_settings(config.provider_config(ref.provider))
        try:
            model = build_provider_model(ref, settings, env)
        except UserError:  # a missing key: its offline row says so already
            continue
        try:
            started = time.monotonic()
            asyncio.run(asyncio.wait_for(model.complete(_PING), ONLINE_TIMEOUT_S))
        except Exception as exc:  # every failure is the finding itself, whatever its kind
            rows.append(
                Row(f"online {text}", "missing", _first_line(exc), "check the key, model id and base_url")
            )
            continue
        rows.append(Row(f"online {text}", "ok", f"answered in {time.monotonic() - started:.1f}s"))
    return rows


_PING = ModelRequest(
    messages=(Message("user", "Reply with the word ok."),), agent="doctor", max_output_tokens=16
)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text.splitlines()[0][:200]


def can_start(rows: list[Row]) -> bool:
    return all(row.status != "missing" for row in rows)


def table(rows: list[Row]) -> Table:
    view = Table(title="shipyard doctor", show_lines=False)
    for column in ("check", "status", "seen", "fix"):
        view.add_column(column, overflow="fold")
    for row in rows:
        status = f"[{STYLE[row.status]}]{row.status}[/]"
        view.add_row(escape(row.check), status, escape(row.seen), escape(row.fix))
    return view


def register(app: typer.Typer, user_errors: Callable[[Any], Any]) -> None:
    console = Console(highlight=False, soft_wrap=True)

    @app.command()
    @user_errors
    def doctor(
        path: Annotated[Path, typer.Argument(help="The target git repository.")] = Path("."),
        online: Annotated[
            bool, typer.Option("--online", help="Send one tiny request per configured model.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
        engine: Annotated[str | None, typer.Option(help="As for `run`: local or ray.")] = None,
        address: Annotated[str | None, typer.Option(help="As for `run`: the Ray cluster.")] = None,
    ) -> None:
        """Check this machine and repository for a run: tools, sandbox, config, keys, CLIs, disk, state
        (and, with `engine = "ray"` or --engine ray, the cluster and each of its nodes)."""
        rows = examine(path, os.environ, online, Overrides(engine=engine, address=address))
        ok = can_start(rows)
        if as_json:
            print(json.dumps({"can_start": ok, "rows": [dataclasses.asdict(row) for row in rows]}, indent=2))
            raise typer.Exit(0 if ok else 1)
        console.print(table(rows))
        console.print(
            "all is well: a run can start here"
            if ok
            else "a run cannot start here: fix the rows marked missing"
        )
        raise typer.Exit(0 if ok else 1)
