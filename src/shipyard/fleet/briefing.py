"""Text the fleet gives agents: the board summary, handoffs, notes. Pure functions of board data."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from shipyard.agent.paths import read_inside
from shipyard.domain import Task, Verdict

NOTES_FILE = "NOTES.md"
NOTES_BUDGET_CHARS = 8000  # agents keep NOTES.md within it: a commit over it is sent back to the worker
VERDICT_META = "last_verdict"
NO_VERDICT = "(none yet: this is the first cycle)"
_BOARD_ROWS = 60


def board_summary(tasks: Iterable[Task]) -> str:
    """One line a task, newest last, capped so long runs do not flood the prompt."""
    rows = [f"- #{t.id} [{t.status.value}] ({t.spec.kind.value}) {t.title}" for t in tasks]
    if not rows:
        return "(the board is empty)"
    if len(rows) > _BOARD_ROWS:
        rows = [f"({len(rows) - _BOARD_ROWS} older tasks not shown)", *rows[-_BOARD_ROWS:]]
    return "\n".join(rows)


def handoff_text(tasks: Iterable[Task]) -> str:
    """The reports of ended tasks, for the planner that wrote them."""
    parts = []
    for t in tasks:
        head = f"- #{t.id} [{t.status.value}] {t.title}"
        if t.handoff is not None:
            head += f"\n  summary: {t.handoff.summary}"
            if t.handoff.concerns:
                head += f"\n  concerns: {t.handoff.concerns}"
            if t.handoff.deviations:
                head += f"\n  deviations: {t.handoff.deviations}"
        if t.notes:
            head += f"\n  notes: {t.notes[-1]}"
        parts.append(head)
    return "\n".join(parts) if parts else "(none)"


def read_notes(worktree: Path) -> str:
    """The repository's design notes, under a size budget."""
    text = read_inside(worktree, NOTES_FILE, NOTES_BUDGET_CHARS * 4 + 4)
    if text is None:
        return "(no NOTES.md yet)"
    if len(text) > NOTES_BUDGET_CHARS:
        return text[:NOTES_BUDGET_CHARS] + "\n[notes truncated]"
    return text


def verdict_text(cycle: int, verdict: Verdict) -> str:
    """The judge's verdict as the next cycle's planners read it."""
    notes = verdict.notes.strip() or "(no notes)"
    return f"cycle {cycle}: {verdict.decision.value}\n{notes}"


def notes_size(worktree: Path) -> int:
    """The size of NOTES.md in `worktree` in characters (0 when missing), read up to just past the budget."""
    text = read_inside(worktree, NOTES_FILE, NOTES_BUDGET_CHARS * 4 + 4)
    return 0 if text is None else len(text)


def task_brief(task: Task) -> dict[str, str]:
    """Prompt variables describing one task."""
    return {
        "title": task.title,
        "description": task.spec.description or "(none)",
        "acceptance": task.spec.acceptance or "(none given)",
        "scope": ", ".join(task.spec.scope) or "(anywhere needed)",
    }
