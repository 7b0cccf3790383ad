"""`shipyard attempts`, `salvage` and `clean` from the command line, on a scripted run as a user has it."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

from cli_helpers import git, invoke, snapshot, write_script
from shipyard.cli.attempts import kept_summary
from shipyard.git import GitRepo

TASK = {"title": "Write three files", "description": "a, b and c", "acceptance": "they exist", "scope": []}
THREE = {"a.txt": "alpha\n", "b.txt": "beta\n", "src/c.py": "print('c')\n"}


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def _script(tmp_path: Path) -> Path:
    """One task; its worker writes three files and meets its step limit, then (attempt 2) finishes."""
    writes = [_call("write_file", path=name, content=text) for name, text in THREE.items()]
    return write_script(
        tmp_path / "script.json",
        {
            "planner": [_call("create_task", **TASK)] + [_call("finish", summary="ok")] * 6,
            "worker": [*writes, _call("finish", summary="the three files were there; done")],
            "judge": [_call("verdict", decision="stop", notes="done")] * 2,
        },
    )


def _scripted_repo(repo: Path, tmp_path: Path) -> Path:
    script = _script(tmp_path)
    (repo / "shipyard.toml").write_text(
        f'goal = "three files"\nworkers = 1\nmax_cycles = 1\n[models]\ndefault = "scripted:{script}"\n'
        "[limits]\nmax_steps = 3\n"
    )
    result = invoke("run", str(repo))
    assert result.exit_code == 0, result.stdout + result.stderr
    return repo


def test_a_limit_stopped_attempt_is_continued_listed_and_salvaged(repo: Path, tmp_path: Path) -> None:
    _scripted_repo(repo, tmp_path)
    for name, text in THREE.items():  # attempt 2 started with attempt 1's files and landed them
        assert (repo / name).read_text() == text

    listed = invoke("attempts", str(repo))
    assert listed.exit_code == 0, listed.stderr
    assert "limit" in listed.stdout and "landed" in listed.stdout and "1 kept attempts" in listed.stdout
    rows = json.loads(invoke("attempts", str(repo), "1", "--json").stdout)
    assert [(r["attempt"], r["ended"]) for r in rows] == [(1, "limit"), (2, "landed")]
    assert sorted(rows[0]["files"]) == sorted(THREE) and rows[0]["added"] == 3
    assert (
        sorted(rows[1]["files"]) == sorted(THREE) and rows[1]["sha"] == git(repo, "rev-parse", "main").strip()
    )
    assert rows[0]["tokens"] == 3 * 120 and rows[1]["tokens"] == 120

    salvaged = invoke("salvage", "1", str(repo), "--attempt", "1")
    assert salvaged.exit_code == 0, salvaged.stderr
    assert "salvage/task-1-attempt-1" in salvaged.stdout
    files = git(repo, "ls-tree", "-r", "--name-only", "salvage/task-1-attempt-1").split()
    assert set(THREE) <= set(files)
    assert git(repo, "show", "salvage/task-1-attempt-1:src/c.py") == THREE["src/c.py"]


def test_bad_input_gets_one_line_and_changes_nothing(repo: Path, tmp_path: Path) -> None:
    _scripted_repo(repo, tmp_path)
    invoke("salvage", "1", str(repo), "--branch", "taken")
    gc.collect()  # the in-process run's board connection closes (and checkpoints) now, not mid-test
    before = snapshot(repo)
    cases = [
        (("salvage", "9", str(repo)), "task #9 has no kept attempts"),
        (("salvage", "1", str(repo), "--attempt", "2"), "no kept attempt 2; kept: 1"),
        (("salvage", "1", str(repo), "--branch", "taken"), "branch `taken` already exists"),
        (("salvage", "1", str(repo), "--branch", "main"), "branch `main` already exists"),
        (("salvage", "1", str(repo), "--branch", "bad..name"), "`bad..name` is not a valid branch name"),
        (("salvage", "1", str(tmp_path / "nowhere")), "does not exist"),
        (("attempts", str(repo), "x"), "`x` is not a task number"),
        (("attempts", str(repo), "1", "2"), "too many arguments"),
    ]
    for args, words in cases:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.stdout)
        assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert snapshot(repo) == before


def test_clean_deletes_kept_attempts_but_not_salvaged_branches(repo: Path, tmp_path: Path) -> None:
    _scripted_repo(repo, tmp_path)
    kept = json.loads(invoke("status", str(repo), "--json").stdout)["attempts"]
    assert kept["kept_attempts"] == 1 and kept["kept_bytes"] > 0
    assert "1 attempts" in invoke("status", str(repo)).stdout
    invoke("salvage", "1", str(repo))
    assert invoke("clean", str(repo), "--task", "2").stdout.startswith("deleted 0 kept attempts")
    cleaned = invoke("clean", str(repo))
    assert cleaned.exit_code == 0 and cleaned.stdout.startswith("deleted 1 kept attempts")
    assert git(repo, "for-each-ref", "refs/shipyard/") == ""
    assert "a.txt" in git(repo, "ls-tree", "-r", "--name-only", "salvage/task-1-attempt-1")
    rows = json.loads(invoke("attempts", str(repo), "--json").stdout)
    assert [(r["attempt"], r["ended"]) for r in rows] == [(1, "nothing kept"), (2, "landed")]
    assert json.loads(invoke("status", str(repo), "--json").stdout)["attempts"]["kept_attempts"] == 0


def test_a_new_run_sets_the_kept_attempts_of_the_last_aside(repo: Path, tmp_path: Path) -> None:
    _scripted_repo(repo, tmp_path)
    old = git(repo, "rev-parse", "refs/shipyard/attempts/1/1").strip()
    for name in THREE:
        git(repo, "rm", "-q", name)
    git(repo, "commit", "-qm", "start over")

    again = invoke("run", str(repo), "--new")  # a new board: its task 1 is another task

    assert again.exit_code == 0, again.stdout + again.stderr
    new = git(repo, "rev-parse", "refs/shipyard/attempts/1/1").strip()
    archived = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/shipyard/archive/")
    assert new != old and archived.strip().endswith(f"/1/1 {old}")
    rows = json.loads(invoke("attempts", str(repo), "--json").stdout)
    assert (rows[0]["attempt"], rows[0]["ended"], rows[0]["sha"]) == (1, "limit", new)
    summary = kept_summary(GitRepo.open(repo))
    assert summary["kept_attempts"] == 2 and summary["kept_bytes"] > 0
    assert invoke("clean", str(repo)).stdout.startswith("deleted 2 kept attempts")
    assert git(repo, "for-each-ref", "refs/shipyard/") == ""
