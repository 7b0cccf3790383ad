"""The checks behind `shipyard doctor`: each returns rows (ok / warning / missing, what was seen, the fix).

Offline and read-only: nothing is written, no key is ever printed (only the name of its variable).
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shipyard.agent.sandbox import probe, unavailable_message
from shipyard.agent.userns import host_userns_problem
from shipyard.backends.catalog import KINDS, find_binary, here
from shipyard.backends.doctor import command_environments
from shipyard.cli.checks import run_state
from shipyard.cli.preflight import Findings, check_config, check_flags, check_repo, provider_settings
from shipyard.cli.sim import with_sim_goal
from shipyard.config import CONFIG_NAME, Overrides, ShipyardConfig, load_config
from shipyard.errors import UserError
from shipyard.fleet.lock import LOCK_FILE
from shipyard.fleet.runtime import STATE_DIR
from shipyard.git import GitRepo
from shipyard.git.repo import git_problem
from shipyard.git.run import git_version
from shipyard.models.factory import HTTP_PROVIDERS, VENDOR, key_env_for, parse_model_string

Status = Literal["ok", "warning", "missing"]
MIN_FREE_GB = 2.0  # worktrees and their test runs; below this a long run may fill the disk
MIN_PYTHON = (3, 11)


@dataclass(frozen=True)
class Row:
    check: str
    status: Status
    seen: str
    fix: str = ""


def python_rows() -> list[Row]:
    have = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] >= MIN_PYTHON:
        return [Row("python", "ok", f"{have} ({sys.executable})")]
    return [Row("python", "missing", have, "install Python 3.11 or newer")]


def git_rows() -> list[Row]:
    problem = git_problem()
    if problem:
        seen, _, fix = problem.partition("; ")
        return [Row("git", "missing", seen, fix)]
    version = ".".join(map(str, git_version() or ()))
    return [Row("git", "ok", f"{version} (merge-tree --write-tree needs 2.38)")]


def sandbox_rows(config: ShipyardConfig | None) -> list[Row]:
    """bubblewrap present and able to start a sandbox here; a run may opt out, so then only a warning."""
    settings = config.sandbox if config is not None else None
    support = probe(settings.bwrap if settings else "bwrap")
    bwrap = settings.bwrap if settings else "bwrap"
    if not support.problem:
        return [Row("bubblewrap", "ok", f"{support.bwrap} starts a sandbox"), *userns_rows(bwrap)]
    _, _, fix = unavailable_message(support.problem).partition("; ")
    opted_out = settings is not None and (not settings.enabled or settings.allow_unsandboxed)
    status: Status = "warning" if opted_out else "missing"
    seen = support.problem + ("; agent commands will run unsandboxed (allowed)" if opted_out else "")
    return [Row("bubblewrap", status, seen, fix), *userns_rows(bwrap)]


def userns_rows(bwrap: str) -> list[Row]:
    """As root without user namespaces, sandboxed commands would keep root's identity on the host."""
    problem = host_userns_problem(bwrap)
    if problem:
        seen, _, fix = problem.partition("; ")
        return [Row("user namespaces", "warning", seen, fix)]
    return []


def repo_rows(path: Path) -> tuple[list[Row], GitRepo | None]:
    if git_problem():
        return [], None
    try:
        repo = GitRepo.open(path)
    except UserError as exc:
        seen, _, fix = str(exc).partition("; ")
        return [Row("repository", "missing", seen, fix)], None
    return [Row("repository", "ok", str(repo.root))], repo


def config_rows(root: Path, overrides: Overrides | None = None) -> tuple[list[Row], ShipyardConfig | None]:
    """`shipyard.toml`, with the flags (`--engine`, `--address`) applied as `run` would."""
    if not (root / CONFIG_NAME).is_file():
        fix = f"run `shipyard init {root}` (or `shipyard demo` to try Shipyard without one)"
        return [Row(CONFIG_NAME, "missing", f"none in {root}", fix)], None
    found = Findings()
    overrides = check_flags(found, overrides or Overrides())
    flags = [_problem_row("flags", line) for line in found.person]
    try:
        config = load_config(root, overrides)
    except UserError as exc:
        seen = str(exc).removeprefix(f"{CONFIG_NAME}: ")
        return [*flags, Row(CONFIG_NAME, "missing", seen, "fix the file")], None
    return [*flags, Row(CONFIG_NAME, "ok", "valid")], config


def model_rows(config: ShipyardConfig, env: Mapping[str, str]) -> list[Row]:
    """Each configured model string, and whether its provider's key is in the environment."""
    found = Findings()
    refs = check_config(found, with_sim_goal(config), env)  # a sim run has a goal of its own
    rows = [Row(f"model {role.value}", "ok", f"{ref.provider}:{ref.model_id}") for role, ref in refs.items()]
    rows += [_problem_row("models and keys", line) for line in found.person]
    for provider in sorted({ref.provider for ref in refs.values()} & set(HTTP_PROVIDERS)):
        vendor = VENDOR[provider]
        key_env = key_env_for(provider, provider_settings(config.provider_config(provider)))
        if env.get(key_env, "").strip() and f"{vendor} key" not in {row.check for row in rows}:
            rows.append(Row(f"{vendor} key", "ok", f"{key_env} is set (not shown)"))
    return rows


def _problem_row(check: str, line: str) -> Row:
    seen, _, fix = line.partition("; ")
    return Row(check, "missing", seen, fix)


def cli_rows(config: ShipyardConfig, env: Mapping[str, str]) -> list[Row]:
    """The external agent CLIs the configuration names: found, and their version (asked in parallel)."""
    found: dict[str, tuple[str, str | None]] = {}  # check name -> (package, binary or None)
    for entries in here(config).values():
        for entry in entries:
            kind = KINDS.get(entry.cli)
            if kind is None or f"cli {kind.name}" in found:
                continue
            path = find_binary(kind, entry, env)
            found[f"cli {kind.name}"] = (kind.package, str(path) if path else None)
    binaries = [binary for _, binary in found.values() if binary]
    with ThreadPoolExecutor(max_workers=max(1, len(binaries))) as pool:
        versions = dict(zip(binaries, pool.map(_version_of, binaries), strict=True))
    rows = []
    for name, (package, binary) in found.items():
        if binary is None:
            fix = f"npm install -g {package} (or set `binary` under [[backends.ROLE]])"
            rows.append(Row(name, "missing", "not found", fix))
        else:
            rows.append(Row(name, "ok", f"{binary} {versions[binary]}"))
    return rows


def cli_env_rows(config: ShipyardConfig, env: Mapping[str, str]) -> list[Row]:
    """The PATH and Python each CLI backend's commands will see, and whether the check resolves there."""
    rows = []
    for found in command_environments(config, env):
        name = f"{found.where} env"
        seen = f"PATH={found.path}; python3={found.python or 'none'}"
        warning = found.warning
        if warning:
            rows.append(
                Row(name, "warning", f"{seen}; {warning.partition('; ')[0]}", warning.partition("; ")[2])
            )
        else:
            rows.append(Row(name, "ok", seen))
    return rows


def _version_of(binary: str) -> str:
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "(version unknown)"
    return (done.stdout.strip().splitlines() or ["(version unknown)"])[0]


def branch_rows(repo: GitRepo, config: ShipyardConfig) -> list[Row]:
    """The shared branch exists and the person's checkout lets a run keep it in step."""
    found = Findings()
    check_repo(found, repo, config, unfinished_ok=True)
    if found.person or found.machine:
        return [_problem_row("branch", line) for line in [*found.person, *found.machine]]
    return [Row("branch", "ok", f"`{config.branch}`")]


def disk_rows(root: Path) -> list[Row]:
    free_gb = shutil.disk_usage(root).free / 1e9
    seen = f"{free_gb:.1f} GB free under {root}"
    if free_gb < MIN_FREE_GB:
        return [
            Row("disk", "warning", seen, f"free space: worktrees and their test runs need {MIN_FREE_GB} GB+")
        ]
    return [Row("disk", "ok", seen)]


def state_rows(repo: GitRepo) -> list[Row]:
    """The run state in `.shipyard/`: a run in progress (its lock held), or an unfinished one to resume."""
    try:
        state = run_state(repo)
    except UserError as exc:
        return [_problem_row(STATE_DIR, str(exc))]
    if not state:
        return [Row(STATE_DIR, "ok", "no run yet")]
    holder = _lock_holder(repo.root / STATE_DIR / LOCK_FILE)
    if holder:
        return [Row(STATE_DIR, "ok", f"a run is in progress (pid {holder}); `shipyard status` shows it")]
    if state in ("running", "stopped", "failed"):
        fix = f"`shipyard resume {repo.root}`, or `shipyard run --new` to start over"
        return [Row(STATE_DIR, "warning", f"an unfinished run (state: {state}), no process running it", fix)]
    return [Row(STATE_DIR, "ok", f"last run: {state}")]


def _lock_holder(path: Path) -> str:
    """The pid in the lock file if a live process holds the lock, else ""."""
    if not path.exists():
        return ""
    with path.open("r", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "?"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return ""


def model_strings(config: ShipyardConfig) -> list[str]:
    """The distinct model strings the roles use (for `--online`), skipping ones that do not parse."""
    out: list[str] = []
    for text in config.models.values():
        try:
            ref = parse_model_string(text)
        except UserError:
            continue
        if f"{ref.provider}:{ref.model_id}" not in out:
            out.append(f"{ref.provider}:{ref.model_id}")
    return out
