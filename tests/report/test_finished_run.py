"""On a finished demo run: `shipyard report` writes the HTML and its PNG plots; status and logs read it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from cli_helpers import invoke
from shipyard.board.sqlite import SqliteBoard

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo project the scripted fleet has finished."""
    target = tmp_path_factory.mktemp("finished") / "demo"
    result = invoke("demo", "--dir", str(target), "--workers", "3")
    assert result.exit_code == 0, result.stdout + result.stderr
    return target


def test_report_writes_html_and_nonempty_png_plots(finished: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = invoke("report", str(finished), "--out", str(out))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert f"wrote {out / 'index.html'}" in result.stdout
    html = (out / "index.html").read_text()
    plots = sorted(out.glob("*.png"))
    assert len(plots) >= 3
    for plot in plots:
        data = plot.read_bytes()
        assert data.startswith(PNG_SIGNATURE), plot
        assert len(data) > 5000, plot
        with Image.open(plot) as image:
            assert image.width >= 400 and image.height >= 200
            colours = image.convert("RGB").getcolors(maxcolors=100_000)
            assert colours is None or len(colours) > 20, f"{plot.name} looks blank"
        assert f'src="{plot.name}"' in html
    for name in ("progress.png", "conflicts.png", "health.png", "cost_by_role.png"):
        assert (out / name).exists()


def test_report_task_table_has_outcome_attempts_time_and_cost(finished: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    invoke("report", str(finished), "--out", str(out))
    html = (out / "index.html").read_text()
    board = SqliteBoard(finished / ".shipyard" / "board.sqlite")
    tasks = board.tasks()
    board.close()
    table = html[html.index('<table id="tasks">') :]
    for header in ("outcome", "attempts", "time", "tokens", "cost (USD)"):
        assert f">{header}</th>" in table
    for task in tasks:
        assert f"<td>{task.id}</td><td>{task.title}" in table
    assert table.count('<td class="done">done</td>') == len(tasks)
    data = json.loads((out / "report.json").read_text())
    rows = {row["id"]: row for row in data["tasks"]}
    assert all(rows[t.id]["attempts"] == t.attempts >= 1 for t in tasks)
    assert all(rows[t.id]["time_s"] is not None and rows[t.id]["tokens"] > 0 for t in tasks)
    assert data["status"]["tokens"] == sum(r["tokens"] for r in rows.values()) + _unattributed(table)


def _unattributed(table: str) -> int:
    found = re.search(
        r"root planner and judge \(no task\)</td>(?:<td></td>){4}<td class=\"num\">([\d,]+)", table
    )
    assert found is not None
    return int(found.group(1).replace(",", ""))


def test_status_without_json_is_a_readable_table(finished: Path) -> None:
    result = invoke("status", str(finished))
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert re.search(r"run: done\s+the judge said done", text)
    assert "problems: none" in text
    assert re.search(r"tasks\s+0 open, 0 claimed, 7 done, 0 failed, 0 cancelled", text)
    assert re.search(r"branch\s+green at [0-9a-f]{10}", text)
    assert "tokens and cost" in text and "│ worker" in text


def test_status_json_keeps_its_keys_and_adds_health_and_problems(finished: Path) -> None:
    data = json.loads(invoke("status", str(finished), "--json").stdout)
    old = {"state", "reason", "tasks", "merged_commits", "conflicts", "cycles", "tokens", "cost_usd"}
    old |= {"by_role", "authors", "last_check", "events"}
    assert old <= set(data)
    assert data["health"]["green"] is True and data["health"]["checks"] >= 1
    assert data["problems"] == []
    assert {row["task_id"] for row in data["by_task"]} == set(range(1, 8))


def test_logs_print_an_agents_transcript(finished: Path) -> None:
    result = invoke("logs", str(finished), "--agent", "judge")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "started as judge" in lines[0]
    assert any(re.search(r"judge step 1 model \(\d+\+\d+ tokens", line) for line in lines)
    assert any("-> verdict(" in line and '"decision": "stop"' in line for line in lines)
    assert all("worker-" not in line.split()[1] for line in lines if re.match(r"\d\d:\d\d:\d\d ", line))
    everyone = invoke("logs", str(finished)).stdout
    assert {"planner", "worker-1", "judge"} <= set(re.findall(r"^\d\d:\d\d:\d\d (\S+)", everyone, re.M))
