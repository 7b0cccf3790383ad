"""A run resumes as it was started: its effective settings are kept with it, flags to `resume` win."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import FAST_RETRY, git, invoke, make_repo
from shipyard.board.sqlite import SqliteBoard
from shipyard.fleet.settings import CONFIG_META

TOML = 'goal = "simulate"\nworkers = 2\n[models]\ndefault = "openai:gpt-5.2"\n[sim]\ntasks = 4\n'
NO_KEY = {"OPENAI_API_KEY": None}


def _repo(tmp_path: Path, budget: str) -> Path:
    root = make_repo(tmp_path / "target")
    (root / "shipyard.toml").write_text(TOML + FAST_RETRY + budget)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "config")
    return root


def _stored(root: Path) -> dict[str, object]:
    board = SqliteBoard(root / ".shipyard" / "board.sqlite")
    try:
        return dict(json.loads(board.get_meta(CONFIG_META) or "{}"))
    finally:
        board.close()


def test_a_run_started_with_model_sim_resumes_with_it_and_says_what_differs(tmp_path: Path) -> None:
    root = _repo(tmp_path, "[budget]\ntokens = 1\n")  # the budget stops the run in its first cycle
    started = invoke("run", str(root), "--model", "sim", env=NO_KEY)
    assert started.exit_code == 1, started.stdout + started.stderr
    assert "budget" in started.stdout
    assert all(_stored(root)["models"][r] == "sim" for r in ("planner", "subplanner", "worker", "judge"))
    resumed = invoke("resume", str(root), env=NO_KEY)
    assert "API key" not in resumed.stderr and "OPENAI_API_KEY" not in resumed.stderr, resumed.stderr
    assert resumed.exit_code == 1, resumed.stdout + resumed.stderr  # stopped by the same budget again
    assert "resuming with the run's own settings" in resumed.stdout
    assert 'models.worker = "sim" (shipyard.toml: (not set))' in resumed.stdout


def test_flags_given_to_resume_win_and_are_kept(tmp_path: Path) -> None:
    root = _repo(tmp_path, "[budget]\ntokens = 1\n")
    assert invoke("run", str(root), "--model", "sim", "--workers", "3", env=NO_KEY).exit_code == 1
    resumed = invoke("resume", str(root), "--workers", "1", "--max-cycles", "2", env=NO_KEY)
    assert "(and --workers, --max-cycles as given now)" in resumed.stdout, resumed.stdout + resumed.stderr
    assert "workers = 1 (shipyard.toml: 2)" in resumed.stdout
    stored = _stored(root)
    assert (stored["workers"], stored["max_cycles"]) == (1, 2)
    assert all(stored["models"][r] == "sim" for r in ("planner", "subplanner", "worker", "judge"))
