"""Role tools: planners write and delegate tasks, workers finish with a handoff, the judge gives a verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from shipyard.agent.files import file_tools
from shipyard.agent.sandbox import Sandbox
from shipyard.agent.shell import Shell
from shipyard.agent.tool import Tool, ToolResult, error, schema
from shipyard.domain import Decision, Role
from shipyard.models.base import ToolSpec

_STRING = {"type": "string"}
_SCOPE = {
    "type": "array",
    "items": {"type": "string"},
    "description": "paths (files or folders) it may touch",
}
_PRIORITY = {"type": "integer", "description": "higher runs first (default 0)"}


class TaskSink(Protocol):
    """Where planner tools put tasks; the fleet implements it on top of the board."""

    def create_task(
        self, title: str, description: str, acceptance: str, scope: list[str], priority: int
    ) -> int:
        """Add a code task for a worker; returns its id."""
        ...

    def delegate(self, title: str, description: str, scope: list[str], priority: int) -> int:
        """Add a plan task that hands `scope` to a sub-planner; returns its id."""
        ...

    def cancel_task(self, task_id: int, reason: str) -> str:
        """Cancel a task this planner wrote that has not ended; returns what happened."""
        ...


def _text(args: dict[str, Any], name: str) -> str:
    return str(args.get(name) or "").strip()


class CreateTask:
    spec = ToolSpec(
        "create_task",
        "Put a task on the board for a worker: one self-contained change with checkable acceptance.",
        schema(
            {
                "title": _STRING,
                "description": _STRING,
                "acceptance": _STRING,
                "scope": _SCOPE,
                "priority": _PRIORITY,
            },
            ("title", "description", "acceptance", "scope"),
        ),
    )

    def __init__(self, sink: TaskSink) -> None:
        self.sink = sink

    async def run(self, args: dict[str, Any]) -> ToolResult:
        title, acceptance = _text(args, "title"), _text(args, "acceptance")
        if not title or not acceptance:
            return error("a task needs a non-empty `title` and `acceptance`")
        task_id = self.sink.create_task(
            title, _text(args, "description"), acceptance, list(args["scope"]), args.get("priority") or 0
        )
        return ToolResult(f"created task #{task_id}")


class Delegate:
    spec = ToolSpec(
        "delegate",
        "Hand a large area (a scope of paths) to a sub-planner, who will split it into tasks.",
        schema(
            {"title": _STRING, "description": _STRING, "scope": _SCOPE, "priority": _PRIORITY},
            ("title", "description", "scope"),
        ),
    )

    def __init__(self, sink: TaskSink) -> None:
        self.sink = sink

    async def run(self, args: dict[str, Any]) -> ToolResult:
        title, scope = _text(args, "title"), [str(p) for p in args["scope"] if str(p).strip()]
        if not title or not scope:
            return error("delegating needs a non-empty `title` and at least one path in `scope`")
        task_id = self.sink.delegate(title, _text(args, "description"), scope, args.get("priority") or 0)
        return ToolResult(f"delegated `{title}` to a sub-planner as task #{task_id}")


class CancelTask:
    spec = ToolSpec(
        "cancel_task",
        "Cancel a task you wrote that is no longer wanted (open or in progress): its worker is stopped "
        "and nothing of it is merged.",
        schema({"task_id": {"type": "integer"}, "reason": _STRING}, ("task_id", "reason")),
    )

    def __init__(self, sink: TaskSink) -> None:
        self.sink = sink

    async def run(self, args: dict[str, Any]) -> ToolResult:
        reason = _text(args, "reason")
        if not reason:
            return error("say why in `reason`: the worker's planner and the log keep it")
        return ToolResult(self.sink.cancel_task(int(args["task_id"]), reason))


class WorkerFinish:
    spec = ToolSpec(
        "finish",
        "End your task with a handoff: what you did, concerns, and deviations from the task.",
        schema({"summary": _STRING, "concerns": _STRING, "deviations": _STRING}, ("summary",)),
    )

    async def run(self, args: dict[str, Any]) -> ToolResult:
        if not _text(args, "summary"):
            return error("`summary` is empty; say what you changed")
        payload = {key: _text(args, key) for key in ("summary", "concerns", "deviations")}
        return ToolResult("finished", finish=payload)


class PlannerFinish:
    spec = ToolSpec(
        "finish",
        "End this planning round with a short summary of the plan.",
        schema({"summary": _STRING}, ("summary",)),
    )

    async def run(self, args: dict[str, Any]) -> ToolResult:
        return ToolResult("finished", finish={"summary": _text(args, "summary")})


class Verdict:
    spec = ToolSpec(
        "verdict",
        "Decide whether the fleet continues with another cycle or stops because the goal is met.",
        schema(
            {"decision": {"type": "string", "enum": ["continue", "stop"]}, "notes": _STRING}, ("decision",)
        ),
    )

    async def run(self, args: dict[str, Any]) -> ToolResult:
        decision = _text(args, "decision").lower()
        if decision not in {d.value for d in Decision}:
            return error(f"`decision` must be `continue` or `stop`, got `{args.get('decision')}`")
        return ToolResult(
            f"verdict: {decision}", finish={"decision": decision, "notes": _text(args, "notes")}
        )


def role_tools(role: Role, sink: TaskSink | None, can_delegate: bool) -> tuple[Tool, ...]:
    """The tools that end a run of `role` (and, for planners, write tasks through `sink`)."""
    if role is Role.WORKER:
        return (WorkerFinish(),)
    if role is Role.JUDGE:
        return (Verdict(),)
    if sink is None:
        raise ValueError(f"the {role.value} tools need a task sink")
    planning: tuple[Tool, ...] = (CreateTask(sink), Delegate(sink)) if can_delegate else (CreateTask(sink),)
    return (*planning, CancelTask(sink), PlannerFinish())


def workspace_tools(root: Path, shell_timeout_s: float, sandbox: Sandbox | None = None) -> tuple[Tool, ...]:
    """The file tools and the shell (confined by `sandbox`, the default policy when None), bound to `root`."""
    return (*file_tools(root), Shell(root, shell_timeout_s, sandbox))
