"""The demo's scripted model: programmed turns for every role, deciding from the conversation.

It is a script, not an LLM: the planner reads the spec and writes one task per module (handing two to a
sub-planner), workers write known solutions, append to the changelog and resolve its conflicts, and the
judge runs the check and stops when it passes.
"""

from __future__ import annotations

import re
import shlex
import sys

from shipyard.demo.sample import CHECK_ARGS, DELEGATED, MODULES
from shipyard.demo.solutions import SOLUTIONS
from shipyard.domain import Role
from shipyard.models.base import ModelRequest, ModelResponse
from shipyard.models.scripted import ScriptedModel, call, turn

FRESH_MARK = "(none: fresh start)"
SUB_FRESH_MARK = "(none yet)"
_MARKERS = r"/^\(<<<<<<<\|=======\|>>>>>>>\)/d"


def check_command() -> str:
    """The sample's whole suite, run by this Python (add a module name to run one test file)."""
    return shlex.join((sys.executable, *CHECK_ARGS))


def _steps(req: ModelRequest) -> int:
    return sum(1 for m in req.messages if m.role == "tool")


def _prompt(req: ModelRequest) -> str:
    return next((m.content for m in req.messages if m.role == "user"), "")


def _last_tool(req: ModelRequest) -> str:
    return next((m.content for m in reversed(req.messages) if m.role == "tool"), "")


def _task_for(mod: str) -> dict[str, object]:
    return {
        "title": f"Implement textkit/{mod}.py",
        "description": f"Implement textkit/{mod}.py as SPEC.md says; add a line to CHANGELOG.md.",
        "acceptance": f"tests/test_{mod}.py passes",
        "scope": [f"textkit/{mod}.py", "CHANGELOG.md"],
    }


def _done_modules(prompt: str) -> set[str]:
    return set(re.findall(r"\[done\] \(code\) Implement textkit/(\w+)\.py", prompt))


def planner(req: ModelRequest) -> ModelResponse:
    """Root planner: read the spec, create tasks for unfinished modules, delegate the formatting ones."""
    prompt, step = _prompt(req), _steps(req)
    if FRESH_MARK not in prompt or step >= 2:
        return turn(call("finish", summary="every module has a task; reported work is merged"))
    if step == 0:
        return turn(call("read_file", path="SPEC.md"))
    todo = [m for m in MODULES if m not in _done_modules(prompt)]
    calls = [call("create_task", f"c{i}", **_task_for(m)) for i, m in enumerate(todo) if m not in DELEGATED]
    if any(m in DELEGATED for m in todo):
        scope = [*(f"textkit/{m}.py" for m in DELEGATED), "CHANGELOG.md"]  # its tasks add a changelog line
        calls.append(
            call(
                "delegate",
                "d",
                title="Formatting helpers (wrap, case)",
                description="Plan the formatting helpers of SPEC.md.",
                scope=scope,
            )
        )
    return turn(*calls)


def subplanner(req: ModelRequest) -> ModelResponse:
    """Sub-planner: one task per delegated module, then finish."""
    if SUB_FRESH_MARK not in _prompt(req) or _steps(req) >= 1:
        return turn(call("finish", summary=f"planned {len(DELEGATED)} formatting tasks"))
    return turn(*(call("create_task", f"c{i}", **_task_for(m)) for i, m in enumerate(DELEGATED)))


def worker(req: ModelRequest) -> ModelResponse:
    """Worker: write the module, add a changelog line (or resolve its conflict), run its tests, finish."""
    prompt, step = _prompt(req), _steps(req)
    found = re.search(r"textkit/(\w+)\.py", prompt)
    if found is None or found.group(1) not in SOLUTIONS:
        return turn(call("finish", summary="no module named in the task", concerns="task unclear"))
    mod = found.group(1)
    test = f"{check_command()} tests.test_{mod}"
    resolving = "MERGE CONFLICT:" in prompt
    plan = [
        call("read_file", path=f"textkit/{mod}.py"),
        call("write_file", path=f"textkit/{mod}.py", content=SOLUTIONS[mod]),
        call(
            "shell",
            command=f"sed -i '{_MARKERS}' CHANGELOG.md"
            if resolving
            else f"echo '- textkit/{mod}.py: implemented' >> CHANGELOG.md",
        ),
        call("shell", command=test),
    ]
    if step < len(plan):
        return turn(plan[step])
    passed = _last_tool(req).startswith("exit code 0")
    summary = f"implemented textkit/{mod}.py" + (" and resolved the changelog conflict" if resolving else "")
    return turn(call("finish", summary=summary, concerns="" if passed else "its tests failed"))


def judge(req: ModelRequest) -> ModelResponse:
    """Judge: run the whole suite; stop when it passes."""
    if _steps(req) == 0:
        return turn(call("shell", command=check_command()))
    passed = _last_tool(req).startswith("exit code 0")
    decision, notes = ("stop", "the whole suite passes") if passed else ("continue", "the suite still fails")
    return turn(call("verdict", decision=decision, notes=notes))


def demo_model() -> ScriptedModel:
    """One scripted model that plays every role of the demo."""
    programs = {Role.PLANNER: planner, Role.SUBPLANNER: subplanner, Role.WORKER: worker, Role.JUDGE: judge}
    return ScriptedModel(programs=programs, name="scripted:demo")
