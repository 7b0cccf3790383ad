"""`shipyard demo`: create the sample project, run a scripted fleet on it, print a summary."""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from shipyard.agent.sandbox import probe
from shipyard.cli.build import build_runtime
from shipyard.cli.session import run_fleet, summary_lines
from shipyard.cli.template import render
from shipyard.config import CONFIG_NAME, load_config
from shipyard.demo.sample import write_sample
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


def _config_text(workers: int) -> str:
    check = f"{shlex.quote(sys.executable)} -m pytest -q"
    text = render(GOAL, check, workers, "main")
    start, end = text.index("[models]"), text.index("# Per-agent limits")
    scripted = "[models]\n" + "".join(
        f'{r} = "scripted:demo"\n' for r in ("planner", "subplanner", "worker", "judge")
    )
    return text[:start] + scripted + "\n" + text[end:]


def run_demo(target: Path | None, workers: int, emit: Callable[[str], None]) -> int:
    """Returns the exit code: 0 when the judge said done with the suite passing."""
    if importlib.util.find_spec("pytest") is None:
        raise UserError("the demo's sample project is tested with pytest; install it: pip install pytest")
    root = _prepare(target).resolve()
    write_sample(root)
    config_text = _config_text(workers)
    problem = probe().problem
    if problem:  # the demo's commands are the script's own, so it may run them without the sandbox
        config_text += "\n[sandbox]\nallow_unsandboxed = true\n"
    (root / CONFIG_NAME).write_text(config_text, encoding="utf-8")
    repo = init_repo(root, "main", HARNESS, "Sample project: a spec, stub modules and a failing suite")
    emit(f"demo project: {root}")
    if problem:
        emit(
            f"note: {problem}; the demo runs its scripted commands unsandboxed "
            "(install bubblewrap, e.g. `apt-get install bubblewrap`, to sandbox them)"
        )
    emit(f"model: scripted (no LLM is called: every role plays a programmed script); workers: {workers}")
    rt = build_runtime(repo, load_config(root), os.environ)
    result, status = run_fleet(rt, emit)
    for line in summary_lines(result, status):
        emit(line)
    emit("The model was scripted: this shows the harness (board, worktrees, merges, judge), not an LLM.")
    emit(f"look around: git -C {root} log --oneline --graph; shipyard status {root}")
    return 0 if result.state == "done" else 1
