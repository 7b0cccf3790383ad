"""The terminal's live summary: running totals folded from the log, at the bottom on a terminal and as
plain lines otherwise."""

from __future__ import annotations

import asyncio
import io

from rich.console import Console

from shipyard.board.memory import InMemoryBoard
from shipyard.cli.live import LiveSummary
from shipyard.cli.progress import ProgressPrinter
from shipyard.domain import Event, Handoff, TaskKind, TaskSpec


def _board() -> InMemoryBoard:
    board = InMemoryBoard()
    for title in ("one", "two", "three"):
        board.add_task(TaskSpec(title))
    board.claim("worker-1", TaskKind.CODE, 60)
    board.complete(1, "worker-1", ["abc"], Handoff("did it"))
    board.claim("worker-2", TaskKind.CODE, 60)
    board.append(Event("CommitMerged", {"sha": "a" * 40}, 1, "worker-1"))
    board.append(Event("MergeConflicted", {"files": ["x"]}, 2, "worker-2"))
    usage = {"role": "worker", "input_tokens": 1000, "output_tokens": 500, "cost_usd": 0.25}
    board.append(Event("ModelCalled", {**usage, "cache_read_tokens": 600}, 2, "worker-2"))
    return board


def test_the_summary_counts_tasks_agents_merges_cost_cache_and_branch_health() -> None:
    board = _board()
    summary = LiveSummary(board)
    summary.feed(board.events())
    text = summary.render().plain
    assert "tasks 1/3 done" in text and "1 busy" in text
    assert "merged 1" in text and "conflicts 1" in text
    assert "1.5k tokens $0.25" in text and "cache 60%" in text
    assert "branch not checked yet" in text
    seen = board.events()[-1].id
    board.append(Event("CheckRan", {"sha": "b" * 40, "passed": False}))
    board.append(Event("MainRed", {"sha": "b" * 40}))
    board.append(Event("CulpritFound", {"sha": "a" * 40}, 1, "worker-1"))
    board.append(Event("FixWritten", {}, 4, "planner"))
    summary.feed(board.events(since=seen))
    seen = board.events()[-1].id
    red = summary.render()
    assert "branch RED" in red.plain and "culprit #1, fix #4" in red.plain
    assert red.plain.startswith("branch RED") and "red" in str(red.spans[0].style)  # first, in red
    board.append(Event("MainGreen", {"sha": "c" * 40, "red_s": 3.0}))
    board.append(Event("CheckRan", {"sha": "c" * 40, "passed": True}))
    summary.feed(board.events(since=seen))
    assert "branch green" in summary.render().plain


def test_without_a_terminal_the_summary_is_a_plain_line() -> None:
    board, lines = _board(), []
    printer = ProgressPrinter(board, lines.append, console=Console(file=io.StringIO()), summary_every_s=0)
    printer.drain()
    assert any("merged" in line and "worker-1 merged #1" in line for line in lines)
    summary = [line for line in lines if "summary: branch not checked yet | tasks 1/3 done" in line]
    assert len(summary) == 1 and "\x1b[" not in summary[0]


def test_on_a_terminal_the_summary_stays_below_the_scrolling_lines() -> None:
    board, shown = _board(), io.StringIO()
    console = Console(file=shown, force_terminal=True, width=200, highlight=False)

    async def follow_once() -> None:
        printed = asyncio.Event()

        def emit(line: str) -> None:
            console.print(line)
            printed.set()

        printer = ProgressPrinter(board, emit, console=console, summary_every_s=0)
        task = asyncio.get_running_loop().create_task(printer.follow())
        await printed.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(follow_once())
    out = shown.getvalue()
    assert "worker-1 merged #1" in out
    assert "tasks 1/3 done" in out and "summary:" not in out  # the live line, not a printed one
    assert out.rindex("tasks 1/3 done") > out.index("worker-1 merged #1")
