"""Cycles remember what they should: the verdict reaches the next planners, the judge reads the notes,
and NOTES.md stays within its budget."""

from __future__ import annotations

from cli_helpers import git
from fleet_helpers import FleetFactory, run
from shipyard.domain import Role, TaskStatus
from shipyard.fleet.briefing import NOTES_BUDGET_CHARS
from shipyard.models.base import ModelRequest, ModelResponse
from shipyard.models.scripted import ScriptedModel, call, turn


def _steps(req: ModelRequest) -> int:
    return sum(1 for m in req.messages if m.role == "tool")


def _user(req: ModelRequest) -> str:
    return "\n".join(m.content for m in req.messages if m.role == "user")


def test_the_verdict_reaches_the_next_cycles_planner_and_the_judge_reads_the_notes(
    fleet: FleetFactory,
) -> None:
    def planner(req: ModelRequest) -> ModelResponse:
        return turn(call("finish", summary="nothing to add"))

    verdicts = [
        turn(call("verdict", decision="continue", notes="the parser in parse.py is still missing")),
        turn(call("verdict", decision="stop", notes="met")),
    ]
    model = ScriptedModel({Role.JUDGE: verdicts}, programs={Role.PLANNER: planner})
    rt = fleet({Role.PLANNER: model, Role.JUDGE: model, Role.WORKER: model}, max_cycles=2)
    (rt.repo.root / "NOTES.md").write_text("NOTES-MARKER: parsing lives in parse.py\n")
    git(rt.repo.root, "add", "NOTES.md")
    git(rt.repo.root, "commit", "-q", "-m", "notes")
    result = run(rt)
    assert result.state == "done"
    planners = [_user(c) for c in model.calls if c.role is Role.PLANNER]
    assert "first cycle" in planners[0]
    assert "cycle 1: continue" in planners[-1]
    assert "the parser in parse.py is still missing" in planners[-1]
    judges = [_user(c) for c in model.calls if c.role is Role.JUDGE]
    assert all("NOTES-MARKER" in text for text in judges)


def _plan_one() -> ScriptedModel:
    task = call("create_task", "c", title="document", description="d", acceptance="a", scope=["NOTES.md"])
    finish = turn(call("finish", summary="planned"))
    verdict = turn(call("verdict", decision="stop", notes="n"))
    return ScriptedModel({Role.PLANNER: [turn(task), finish, finish], Role.JUDGE: [verdict] * 2})


def _notes_writer(condense: bool) -> ScriptedModel:
    """Writes a NOTES.md over the budget; told so, it condenses it (or, without `condense`, does not)."""

    def worker(req: ModelRequest) -> ModelResponse:
        told = "NOTES.md IS TOO LONG" in _user(req)  # each round is a fresh session with this message
        if _steps(req) == 0 and not told:
            return turn(call("write_file", path="NOTES.md", content="x" * (NOTES_BUDGET_CHARS + 500)))
        if _steps(req) == 0 and condense:
            return turn(call("write_file", path="NOTES.md", content="short notes\n"))
        return turn(call("finish", summary="notes"))

    return ScriptedModel(programs={Role.WORKER: worker})


def test_notes_over_the_budget_are_sent_back_and_land_condensed(fleet: FleetFactory) -> None:
    planner = _plan_one()
    models = {Role.PLANNER: planner, Role.JUDGE: planner, Role.WORKER: _notes_writer(condense=True)}
    rt = fleet(models, max_cycles=1, fleet={"max_conflict_rounds": 2})
    run(rt)
    assert rt.board.get(1).status is TaskStatus.DONE
    assert (rt.repo.root / "NOTES.md").read_text() == "short notes\n"
    over = [e for e in rt.board.events() if e.kind == "NotesOverBudget"]
    assert len(over) == 1 and over[0].data["chars"] > NOTES_BUDGET_CHARS


def test_notes_kept_over_the_budget_never_land(fleet: FleetFactory) -> None:
    planner = _plan_one()
    models = {Role.PLANNER: planner, Role.JUDGE: planner, Role.WORKER: _notes_writer(condense=False)}
    rt = fleet(models, max_cycles=1, fleet={"max_conflict_rounds": 1})
    run(rt)
    task = rt.board.get(1)
    assert task.status is TaskStatus.FAILED and "NOTES.md over its budget" in task.notes[-1]
    assert not (rt.repo.root / "NOTES.md").exists()
