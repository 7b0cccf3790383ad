"""Helpers for CLI tests: real git repositories and the CLI run in-process."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from shipyard.cli import app

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Tester",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "Tester",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(repo: Path, *args: str) -> str:
    import os

    env = {**os.environ, **GIT_ENV}
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def make_repo(root: Path) -> Path:
    """A git repository on `main` with one commit."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("# target\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return root


def invoke(*args: str, env: Mapping[str, str | None] | None = None) -> Any:
    """Run the CLI in-process and return click's Result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def write_script(path: Path, turns: dict[str, list[dict[str, Any]]]) -> Path:
    """Recorded turns for the scripted model, as JSON."""
    path.write_text(json.dumps(turns))
    return path


def one_task_script(path: Path, file: str) -> Path:
    """A planner that asks for one task (write `file`) and a judge that stops once it is there."""
    task = {"title": f"Write {file}", "description": "d", "acceptance": "a", "scope": [file]}
    finish = {"name": "finish", "arguments": {"summary": "done"}}
    verdict = {"name": "verdict", "arguments": {"decision": "stop", "notes": f"{file} is there"}}
    planner = [{"tool_calls": [{"name": "create_task", "arguments": task}]}, {"tool_calls": [finish]}]
    return write_script(
        path, {"planner": [*planner, {"tool_calls": [finish]}], "judge": [{"tool_calls": [verdict]}]}
    )


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root (including .git), to prove a command changed nothing."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


FAST_RETRY = "\n[retry]\nbase_s = 0.01\nmax_s = 0.05\nbreaker_cooldown_s = 0.05\n"
FAST_RETRY_TABLE = {"base_s": 0.01, "max_s": 0.05, "breaker_cooldown_s": 0.05}


def make_demo_repo(root: Path, workers: int = 4, tables: dict[str, dict[str, Any]] | None = None) -> Path:
    """The demo's sample project as a repository, configured for the scripted fleet but not yet run."""
    from shipyard.cli.demo import demo_config
    from shipyard.demo.sample import write_sample
    from shipyard.fleet.runtime import HARNESS
    from shipyard.git import init_repo

    root.mkdir(parents=True)
    write_sample(root)
    text = demo_config(workers, {"retry": FAST_RETRY_TABLE, **(tables or {})})
    (root / "shipyard.toml").write_text(text)
    init_repo(root, "main", HARNESS, "sample")
    return root


def final_events_per_task(events: list[dict[str, Any]]) -> dict[int, list[str]]:
    """For each task, the final-status events it got (done, failed, cancelled) in order."""
    final = {"TaskCompleted": "done", "TaskFailed": "failed", "TaskCancelled": "cancelled"}
    out: dict[int, list[str]] = {}
    for e in events:
        if e["kind"] in final and e["task_id"] is not None:
            out.setdefault(e["task_id"], []).append(final[e["kind"]])
    return out


def audit(root: Path, branch: str = "main") -> dict[str, int]:
    """Check the invariants of a finished run; returns counts for the test's own assertions."""
    from shipyard.board.sqlite import SqliteBoard
    from shipyard.git import GitRepo

    repo = GitRepo.open(root)
    board = SqliteBoard(root / ".shipyard" / "board.sqlite")
    try:
        tasks, events = board.tasks(), board.events()
    finally:
        board.close()
    assert all(t.is_final for t in tasks), [(t.id, t.status) for t in tasks if not t.is_final]
    final = final_events_per_task([{"kind": e.kind, "task_id": e.task_id} for e in events])
    assert all(len(final.get(t.id, [])) == 1 for t in tasks), final
    merged = [str(e.data["sha"]) for e in events if e.kind == "CommitMerged"]
    assert all(repo.contains(branch, sha) for sha in merged), "a merged commit is missing from the branch"
    assert all(repo.contains(branch, c) for t in tasks for c in t.commits)
    assert repo.list_worktrees() == [], repo.list_worktrees()
    assert repo.branches_with_prefix("shipyard/") == []
    ok, report = repo.fsck()
    assert ok, report
    return {"tasks": len(tasks), "merged": len(merged), "done": sum(t.status.value == "done" for t in tasks)}
