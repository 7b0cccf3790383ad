"""`shipyard attempts`, `salvage` and `clean`: the work of attempts that did not land, for the person.

Every attempt that ends without landing is kept on `refs/shipyard/attempts/<task>/<n>` (see
`shipyard.fleet.attempts`); these commands list them, make a branch of one, and delete them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from shipyard.board.sqlite import SqliteBoard
from shipyard.cli.checks import board_path
from shipyard.config import load_config
from shipyard.errors import UserError
from shipyard.fleet.attempts import AttemptLog, attempt_log
from shipyard.git import GitRepo
from shipyard.git.attempt import Changes, KeptCommit

out = Console(highlight=False, soft_wrap=True)
Guarded = Callable[[Callable[..., Any]], Callable[..., Any]]
PathArg = Annotated[Path, typer.Argument(help="The target git repository.")]


@dataclass(frozen=True)
class AttemptRow:
    """One kept attempt as the person sees it."""

    task: int
    attempt: int
    ended: str
    reason: str
    agent: str
    files: list[str]
    added: int
    removed: int
    tokens: int | None
    cost_usd: float | None
    ref: str
    sha: str


def _shared_branch(repo: GitRepo) -> str:
    try:
        return load_config(repo.root).branch
    except UserError:
        return "main"


def _log(repo: GitRepo) -> dict[tuple[int, int], AttemptLog]:
    """Every attempt of the run's event log; empty when there is no run."""
    path = board_path(repo)
    if not path.exists():
        return {}
    board = SqliteBoard(path)
    try:
        return attempt_log(board.events())
    finally:
        board.close()


def _kept_row(repo: GitRepo, kept: KeptCommit, log: AttemptLog | None) -> AttemptRow:
    changes = repo.attempts().changes(_shared_branch(repo), kept.sha)
    t = kept.trailers
    return AttemptRow(
        kept.task_id,
        kept.attempt,
        ended=t.get("Ended", "?"),
        reason=t.get("Reason", ""),
        agent=t.get("Agent", ""),
        files=list(changes.files),
        added=changes.added,
        removed=changes.removed,
        tokens=log.tokens if log is not None else None,
        cost_usd=log.cost_usd if log is not None else None,
        ref=kept.ref,
        sha=kept.sha,
    )


def _logged_row(key: tuple[int, int], log: AttemptLog, landed: dict[str, Changes]) -> AttemptRow:
    """An attempt with nothing kept: it landed (its commit is on the shared branch) or changed nothing."""
    if log.landed is None:
        return AttemptRow(*key, "nothing kept", log.reason, "", [], 0, 0, log.tokens, log.cost_usd, "", "")
    changes = landed.get(log.landed, Changes((), 0, 0))
    files, added, removed = list(changes.files), changes.added, changes.removed
    usage = (log.tokens, log.cost_usd)
    return AttemptRow(*key, "landed", "", "", files, added, removed, *usage, log.landed, log.landed)


def attempt_rows(repo: GitRepo, task_id: int | None = None) -> list[AttemptRow]:
    """Every attempt (of one task, if given): kept ones from git, the others from the run's event log."""
    log = _log(repo)
    kept = {(k.task_id, k.attempt): k for k in repo.attempts().kept(task_id)}
    keys = sorted(set(kept) | {key for key in log if task_id is None or key[0] == task_id})
    shas = [log[key].landed or "" for key in keys if key not in kept]
    landed = repo.attempts().landed_changes([sha for sha in shas if sha])
    rows = []
    for key in keys:
        if key in kept:
            rows.append(_kept_row(repo, kept[key], log.get(key)))
        else:
            rows.append(_logged_row(key, log[key], landed))
    return rows


def _words(words: list[str] | None) -> tuple[Path, int | None]:
    """`[PATH] [TASK]`: a lone number is a task of the repository here (`./3` names a folder `3`)."""
    items = list(words or [])
    usage = "usage: shipyard attempts [PATH] [TASK]"
    if len(items) > 2:
        raise UserError(f"too many arguments; {usage}")
    if len(items) == 2:
        if not items[1].isdigit():
            raise UserError(f"`{items[1]}` is not a task number; {usage}")
        return Path(items[0]), int(items[1])
    if items and items[0].isdigit():
        return Path("."), int(items[0])
    return Path(items[0]) if items else Path("."), None


def _table(rows: list[AttemptRow]) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    for name in ("task", "attempt", "ended", "files", "lines", "tokens", "cost", "commit"):
        table.add_column(name, justify="right" if name in ("task", "attempt", "tokens", "cost") else "left")
    for r in rows:
        tokens = "-" if r.tokens is None else f"{r.tokens:,}"
        cost = "-" if r.cost_usd is None else f"${r.cost_usd:.4f}"
        lines, files = f"+{r.added} -{r.removed}", str(len(r.files))
        table.add_row(f"#{r.task}", str(r.attempt), r.ended, files, lines, tokens, cost, r.sha[:10])
    return table


def attempts(
    words: Annotated[
        list[str] | None, typer.Argument(metavar="[PATH] [TASK]", help="Repository (optional), task number.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON list.")] = False,
) -> None:
    """List attempts: how each ended, its changes and cost; the work of those that did not land is kept."""
    path, task_id = _words(words)
    repo = GitRepo.open(path)
    rows = attempt_rows(repo, task_id)
    if as_json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return
    which = f" of task #{task_id}" if task_id is not None else ""
    if not rows:
        out.print(f"no attempts{which} in {repo.root}")
        return
    out.print(_table(rows))
    for r in rows:
        if r.reason:
            out.print(f"#{r.task}/{r.attempt} {r.ended}: {r.reason}", markup=False)
    kept = sum(1 for r in rows if r.ref.startswith("refs/"))
    mb = repo.attempts().disk_bytes() / 1e6 if kept else 0.0
    out.print(
        f"{kept} kept attempts{which} (refs/shipyard/attempts/TASK/N); the objects only they hold take "
        f"{mb:.2f} MB. `shipyard salvage TASK` makes a branch of one, `shipyard clean` deletes them."
    )


def _pick(repo: GitRepo, task_id: int, attempt: int | None) -> KeptCommit:
    kept = repo.attempts().kept(task_id)
    if not kept:
        raise UserError(f"task #{task_id} has no kept attempts; `shipyard attempts {repo.root}` lists them")
    if attempt is None:
        return kept[-1]
    for item in kept:
        if item.attempt == attempt:
            return item
    have = ", ".join(str(k.attempt) for k in kept)
    raise UserError(
        f"task #{task_id} has no kept attempt {attempt}; kept: {have}; pass one of them to --attempt"
    )


def salvage(
    task_id: Annotated[int, typer.Argument(metavar="TASK", min=1, help="The task number.")],
    path: PathArg = Path("."),
    attempt: Annotated[
        int | None, typer.Option(min=1, help="Which attempt (default: the last kept).")
    ] = None,
    branch: Annotated[
        str | None, typer.Option(help="The new branch (default: salvage/task-TASK-attempt-N).")
    ] = None,
) -> None:
    """Make a branch of a kept attempt in the repository, to look at, finish or merge by hand."""
    repo = GitRepo.open(path)
    kept = _pick(repo, task_id, attempt)
    name = branch if branch is not None else f"salvage/task-{kept.task_id}-attempt-{kept.attempt}"
    store = repo.attempts()
    if not store.valid_branch_name(name):
        raise UserError(f"`{name}` is not a valid branch name; pass another with --branch NAME")
    if repo.branch_exists(name) or not store.make_branch(name, kept.sha):
        raise UserError(f"branch `{name}` already exists; pass another name with --branch NAME")
    files = store.changes(_shared_branch(repo), kept.sha).files
    shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    out.print(
        f"branch {name} at {kept.sha[:10]} holds attempt {kept.attempt} of task #{kept.task_id} "
        f"({kept.trailers.get('Ended', '?')}; {len(files)} files: {shown or 'none'})",
        markup=False,
    )
    out.print(f"`git switch {name}` to look at it, `git merge {name}` to keep it", markup=False)


def clean(
    path: PathArg = Path("."),
    task: Annotated[int | None, typer.Option(min=1, help="Only this task's kept attempts.")] = None,
) -> None:
    """Delete kept attempts (all, earlier runs' too, or one task's); salvaged branches stay; git frees
    the space at its next gc."""
    repo = GitRepo.open(path)
    store = repo.attempts()
    refs = [k.ref for k in store.kept(task)] + (store.archived() if task is None else [])
    size_mb = store.disk_bytes() / 1e6 if refs and task is None else 0.0
    deleted = store.delete(refs)
    which = f" of task #{task}" if task is not None else ""
    freed = f" ({size_mb:.2f} MB of objects only they held)" if task is None else ""
    out.print(f"deleted {deleted} kept attempts{which}{freed}")


def kept_summary(repo: GitRepo) -> dict[str, int]:
    """For `status`: how many attempts are kept (earlier runs' too) and the bytes of objects only they
    hold (what `shipyard clean` frees at git's next gc)."""
    store = repo.attempts()
    count = len(store.kept()) + len(store.archived())
    return {"kept_attempts": count, "kept_bytes": store.disk_bytes() if count else 0}


def register(app: typer.Typer, guarded: Guarded) -> None:
    """Add `attempts`, `salvage` and `clean`; `guarded` turns user errors into one line and exit code 2."""
    for command in (attempts, salvage, clean):
        app.command()(guarded(command))
