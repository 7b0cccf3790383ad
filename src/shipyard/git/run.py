"""The one place that starts git: `-C`, captured output, a fixed environment, `GitError` on failure."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import GitError
from shipyard.git.identity import SHIPYARD, identity_env

TIMEOUT_S = 300.0

# Variables that would point git at another repository, index or identity than the one we ask for.
_DROPPED_ENV = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_COMMON_DIR",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
        "GIT_IMPLICIT_WORK_TREE",
        "GIT_CONFIG",
        "GIT_CONFIG_PARAMETERS",
        "GIT_CONFIG_COUNT",
        "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_DATE",
        "GIT_EXTERNAL_DIFF",
        "GIT_DIFF_OPTS",
        # Pathspec modes that would turn the `:(exclude)` magic keeping Shipyard's paths out of commits off.
        "GIT_LITERAL_PATHSPECS",
        "GIT_GLOB_PATHSPECS",
        "GIT_NOGLOB_PATHSPECS",
        "GIT_ICASE_PATHSPECS",
    }
)

# Headless and deterministic: nobody can type a passphrase for a signing key in the middle of a run.
# No fsmonitor or submodule commands: a repository an agent wrote must never run a program of its choosing.
# No hooks at all (the person's own included, which `--no-verify` does not stop for post-commit,
# reference-transaction, post-checkout, ...): set on the command line, no config file can turn them back on.
# No automatic maintenance after each commit or merge (a process each time, and a repack racing the fleet):
# the fleet runs it once per cycle, when no agent is at work (`GitRepo.maintain`).
_CONFIG = (
    "-c",
    "maintenance.auto=false",
    "-c",
    "commit.gpgSign=false",
    "-c",
    "core.quotePath=false",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "diff.ignoreSubmodules=all",
    "-c",
    "submodule.recurse=false",
    "-c",
    "core.hooksPath=/dev/null",
)


# For a worker's branch and worktree, which live for one task: no reflogs (two files made and deleted
# per task for nothing; file churn is what limits a large fleet). The shared branch keeps its reflog.
NO_REFLOG = ("-c", "core.logAllRefUpdates=false")


@dataclass(frozen=True)
class GitOutput:
    """What a git command returned."""

    code: int
    stdout: str
    stderr: str


def base_env() -> dict[str, str]:
    """The process environment, cleaned for git: no prompts, C locale, the Shipyard identity."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update(identity_env(SHIPYARD, SHIPYARD))
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"})
    return env


def git(
    cwd: Path,
    *args: str,
    ok: Collection[int] = (0,),
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> GitOutput:
    """Run `git -C cwd ARGS`; raise `GitError` unless the exit code is in `ok`."""
    raw = None if stdin is None else stdin.encode("utf-8", "surrogateescape")
    code, out, err = _run(cwd, args, ok, env, raw)
    return GitOutput(code, _text(out), _text(err))


def git_bytes(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """Run `git -C cwd ARGS` on bytes (packs, bundles): its standard output; `GitError` unless it exits 0."""
    return _run(cwd, args, (0,), None, stdin)[1]


def _run(
    cwd: Path, args: tuple[str, ...], ok: Collection[int], env: Mapping[str, str] | None, stdin: bytes | None
) -> tuple[int, bytes, bytes]:
    argv = ["-C", str(cwd), *_CONFIG, *args]
    full_env = base_env()
    full_env.update(env or {})
    try:
        done = subprocess.run(
            [_program(full_env.get("PATH", os.defpath)), *argv],
            input=stdin,
            capture_output=True,
            env=full_env,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitError(argv, -1, f"timed out after {TIMEOUT_S:.0f} s") from exc
    except OSError as exc:
        raise GitError(argv, -1, f"cannot start git: {exc}") from exc
    if done.returncode not in ok:
        raise GitError(argv, done.returncode, _text(done.stderr))
    return done.returncode, done.stdout, done.stderr


def _text(raw: bytes) -> str:
    """git's output as text, as `subprocess` would give it: UTF-8, universal newlines, odd bytes kept."""
    text = raw.decode("utf-8", errors="surrogateescape")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


@functools.lru_cache(maxsize=8)
def _program(search_path: str) -> str:
    """git's full path on `search_path`, found once: starting it by bare name tries every folder first."""
    return shutil.which("git", path=search_path) or "git"


MIN_VERSION = (2, 38)  # `git merge-tree --write-tree`, which every merge uses


@functools.lru_cache(maxsize=1)
def git_version() -> tuple[int, ...] | None:
    """The installed git's version, as numbers (`(2, 39, 5)`); None when git cannot be run or read."""
    try:
        out = git(Path("/"), "--version").stdout
    except GitError:
        return None
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(part) for part in match.groups() if part is not None) if match else None


def nul_split(text: str) -> list[str]:
    """Split `-z` output into its non-empty fields."""
    return [part for part in text.split("\0") if part]
