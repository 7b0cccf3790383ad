"""Checks on the target repository and its run state, made before anything is written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shipyard.errors import RepoError, UserError
from shipyard.fleet.runtime import STATE_DIR
from shipyard.git import GitRepo

BOARD_FILE = "board.sqlite"
UNFINISHED = ("running", "stopped", "failed")


def check_checkout(repo: GitRepo, branch: str) -> None:
    """The person's checkout must be on a branch and, if on the shared branch, without tracked edits."""
    current = repo.current_branch()
    if current is None:
        raise RepoError(
            f"HEAD is detached in {repo.root}; check out a branch first (e.g. `git switch {branch}`)"
        )
    changed = repo.person_changes(branch) if current == branch else []
    if changed:
        raise RepoError(
            f"{repo.root} has uncommitted changes on `{branch}` ({', '.join(changed[:3])}"
            f"{', ...' if len(changed) > 3 else ''}); commit or stash them first, since Shipyard keeps "
            "this checkout in step with what lands"
        )


def board_path(repo: GitRepo) -> Path:
    return repo.root / STATE_DIR / BOARD_FILE


def run_state(repo: GitRepo) -> str:
    """The recorded state of the run in this repository ("" when there is none), read without writing."""
    path = board_path(repo)
    if not path.exists():
        return ""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'state'").fetchone()
    except sqlite3.Error as exc:
        raise UserError(f"{path} cannot be read ({exc}); move it away to start a new run") from None
    return str(row[0]) if row else ""


def check_no_unfinished_run(repo: GitRepo) -> None:
    """`run` refuses a repository whose last run did not finish; `resume` continues it."""
    state = run_state(repo)
    if state in UNFINISHED:
        raise UserError(
            f"an unfinished run is in {repo.root} (state: {state}); continue it with "
            f"`shipyard resume {repo.root}`, or start over with `shipyard run --new {repo.root}`"
        )


def archive_board(repo: GitRepo) -> Path | None:
    """Move the old board aside (for `run --new`); returns where it went."""
    path = board_path(repo)
    if not path.exists():
        return None
    archive = path.parent / "archive"
    archive.mkdir(exist_ok=True)
    target = archive / f"board-{int(path.stat().st_mtime)}.sqlite"
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{path}{suffix}")
        if src.exists():
            src.rename(Path(f"{target}{suffix}"))
    return target
