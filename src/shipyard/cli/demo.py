"""`shipyard demo`: create the sample project, run a scripted fleet on it, print a summary."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from shipyard.agent.sandbox import probe
from shipyard.cli.build import build_runtime
from shipyard.cli.preflight import preflight
from shipyard.cli.session import run_fleet, summary_lines
from shipyard.cli.template import InitValues, render
from shipyard.config import CONFIG_NAME, Overrides
from shipyard.demo.sample import write_sample
from shipyard.demo.script import check_command
from shipyard.domain import Role
from shipyard.errors import UserError
from shipyard.fleet.runtime import HARNESS
from shipyard.git import init_repo

GOAL = "Implement every function of the textkit library described in SPEC.md so that the test suite passes."


def _prepare(target: Path | None) -> Path:
    if target is None:
        return Path(tempfile.mkdtemp(prefix="shipyard-demo-"))
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserError(f"--dir {target} is not an empty folder; pass a new or empty folder")
    target.mkdir(parents=True, exist_ok=True)
    return target


def demo_config(workers: int, tables: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The demo's `shipyard.toml`: the init template with every role scripted and the sample's check."""
    models = {role.value: "scripted:demo" for role in Role}
    values = InitValues(GOAL, check_command(), workers, "main", models=models, tables=tables or {})
    return render(values)


def run_demo(target: Path | None, workers: int, emit: Callable[[str], None]) -> int:
    """Returns the exit code: 0 when the judge said done with the suite passing."""
    root = _prepare(target).resolve()
    write_sample(root)
    problem = probe().problem
    # the demo's commands are the script's own, so it may run them without the sandbox
    tables = {"sandbox": {"allow_unsandboxed": True}} if problem else {}
    (root / CONFIG_NAME).write_text(demo_config(workers, tables), encoding="utf-8")
    repo = init_repo(root, "main", HARNESS, "Sample project: a spec, stub modules and a failing suite")
    emit(f"demo project: {root}")
    if problem:
        emit(
            f"note: {problem}; the demo runs its scripted commands unsandboxed "
            "(install bubblewrap, e.g. `apt-get install bubblewrap`, to sandbox them)"
        )
    emit(f"model: scripted (no LLM is called: every role plays a programmed script); workers: {workers}")
    rt = build_runtime(preflight(repo.root, Overrides(), os.environ), os.environ)
    result, status = run_fleet(rt, emit)
    for line in summary_lines(result, status):
        emit(line)
    emit("The model was scripted: this shows the harness (board, worktrees, merges, judge), not an LLM.")
    emit(f"look around: git -C {root} log --oneline --graph; shipyard status {root}")
    return 0 if result.state == "done" else 1
