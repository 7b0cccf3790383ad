"""One short line for each event a person cares about: the terminal's progress and the dashboard's feed."""

from __future__ import annotations

from collections.abc import Callable

from shipyard.domain import Event

Line = Callable[[Event], str]


def _task(e: Event) -> str:
    return f"#{e.task_id}" if e.task_id is not None else ""


def _sha(e: Event) -> str:
    return str(e.data.get("sha", ""))[:10]


_LINES: dict[str, Line] = {
    "RunStarted": lambda e: f"run started with {e.data.get('workers')} workers",
    "RunResumed": lambda e: f"run resumed at cycle {e.data.get('cycle')}",
    "CycleStarted": lambda e: f"cycle {e.data.get('cycle')} started",
    "TaskCreated": lambda e: f"{e.agent or 'planner'} wrote {_task(e)} {e.data.get('title', '')}".strip(),
    "TaskClaimed": lambda e: f"{e.agent} took {_task(e)}",
    "CommitMerged": lambda e: f"{e.agent} merged {_task(e)} as {_sha(e)}",
    "MergeConflicted": lambda e: (
        f"{e.agent} hit a merge conflict on {_task(e)}: {', '.join(e.data.get('files', []))}"
    ),
    "MergeHeld": lambda e: (
        f"{e.agent}'s merge of {_task(e)} waits while task #{e.data.get('holder')} resolves a conflict "
        "on files it changes"
    ),
    "TaskReleased": lambda e: f"{_task(e)} returned to the board: {e.data.get('reason', '')}",
    "TaskFailed": lambda e: f"{_task(e)} failed: {e.data.get('reason', '')}",
    "TaskCancelled": lambda e: f"{_task(e)} cancelled: {e.data.get('reason', '')}",
    "TaskReprioritised": lambda e: (
        f"{_task(e)} priority {e.data.get('previous')} -> {e.data.get('priority')}"
    ),
    "LeaseExpired": lambda e: f"{_task(e)} lease expired; back on the board",
    "CheckRan": lambda e: f"check on {_sha(e)}: {'passed' if e.data.get('passed') else 'FAILED'}",
    "PlannerWoken": lambda e: f"{e.agent} woken with {len(e.data.get('handoffs', []))} handoffs",
    "VerdictGiven": lambda e: f"judge: {e.data.get('decision')} ({e.data.get('notes', '')})",
    "AgentCrashed": lambda e: f"{e.agent} crashed on {_task(e)}: {e.data.get('error', '')}",
    "AgentStalled": lambda e: f"{e.agent} stalled on {_task(e)}: {e.data.get('reason', '')}",
    "SteeringAdded": lambda e: f"steering: {e.data.get('message', '')}",
    "RunPaused": lambda _e: "paused: no new tasks are claimed",
    "RunUnpaused": lambda _e: "unpaused",
    "StopRequested": lambda _e: "stop requested: the fleet winds down",
    "WorkerPlaced": lambda e: f"{e.agent} works on {_task(e)} on node {e.data.get('node', '?')}",
    "WorkerLost": lambda e: f"{e.agent} lost {_task(e)}: its actor or node died ({e.data.get('error', '')})",
    "ClusterHeadLost": lambda e: (
        f"the Ray cluster's head ({e.data.get('address')}) has not answered for {e.data.get('down_s')} s"
    ),
    "ResultStale": lambda e: f"{e.agent}'s result for {_task(e)} dropped: the task is no longer its",
    "CheckoutBehind": lambda e: f"checkout behind: {e.data.get('reason', '')}",
    "AttemptKept": lambda e: (
        f"{e.agent}'s attempt {e.data.get('attempt')} on {_task(e)} ended ({e.data.get('ended')}); "
        f"its work is kept: shipyard salvage {e.task_id}"
    ),
    "AttemptContinued": lambda e: (
        f"{e.agent} continues {_task(e)} from attempt {e.data.get('from_attempt')} "
        f"({e.data.get('files')} files"
        + (f", conflicts in {', '.join(e.data['conflicts'])})" if e.data.get("conflicts") else ")")
    ),
    "MergeRefused": lambda e: f"{e.agent}'s merge of {_task(e)} refused: {e.data.get('reason', '')}",
    "AgentStopped": lambda e: f"{e.agent} stopped on {_task(e)}: {e.data.get('reason', '')}",
    "NotesOverBudget": lambda e: (
        f"{e.agent}: NOTES.md is {e.data.get('chars')} characters (budget {e.data.get('budget')}); sent back"
    ),
    "MainRed": lambda e: f"SHARED BRANCH RED at {_sha(e)} (exit {e.data.get('exit_code')}); bisecting",
    "CulpritFound": lambda e: (
        f"culprit: the merge of {_task(e)} ({_sha(e)}), after {e.data.get('probes')} probe(s)"
        if e.task_id is not None
        else "culprit: not among this run's merges"
    ),
    "FixWritten": lambda e: f"fix {_task(e)} written at top priority for {e.agent}",
    "MainGreen": lambda e: f"shared branch green again at {_sha(e)} after {e.data.get('red_s')}s red",
    "RunFinished": lambda e: f"run {e.data.get('state')}: {e.data.get('reason', '')}",
}


def describe(event: Event) -> str | None:
    """A short line for an event worth showing, or None."""
    make = _LINES.get(event.kind)
    return make(event) if make else None
