"""The role-tool bridge: an external CLI ends with one structured answer that stands for its role tools.

A CLI cannot call Shipyard's `create_task`, `delegate`, `finish` or `verdict`. Instead it is given a
JSON schema for its final answer (Claude Code's `--json-schema`, Codex's `--output-schema`): the
fields of the role's closing tool (`finish` or `verdict`), plus, for planners, one list per planning
tool holding the arguments of each call. Shipyard then runs those same `Tool` objects itself, in order
(so tasks reach the board through the session's `TaskSink`), reports each call to the observer, and
ends the run with the closing tool's payload, exactly as the built-in loop would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shipyard.agent import AgentRun, Observer, Tool, ToolResult
from shipyard.agent.tool import check_args, error
from shipyard.errors import ToolError

CLOSING = ("finish", "verdict")
PLANNING = ("create_task", "delegate")


@dataclass(frozen=True)
class Bridge:
    """The role tools of one run: the closing tool and the planning tools whose calls are collected."""

    closing: Tool
    planning: tuple[Tool, ...]

    @classmethod
    def of(cls, run: AgentRun) -> Bridge:
        by_name = {tool.spec.name: tool for tool in run.tools}
        closing = next((by_name[name] for name in CLOSING if name in by_name), None)
        if closing is None:
            raise ValueError(f"a {run.role.value} run has no `finish` or `verdict` tool")
        return cls(closing, tuple(by_name[name] for name in PLANNING if name in by_name))

    def schema(self) -> dict[str, Any]:
        """The final answer's JSON schema, strict (every field required, no others) as Codex wants."""
        props: dict[str, Any] = dict(_strict(self.closing.spec.parameters)["properties"])
        for tool in self.planning:
            props[tool.spec.name] = {
                "type": "array",
                "description": tool.spec.description,
                "items": _strict(tool.spec.parameters),
            }
        return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}

    def instructions(self) -> str:
        """What the CLI is told about ending its run, appended to the role's prompt."""
        names = ", ".join(f"`{t.spec.name}`" for t in (*self.planning, self.closing))
        lines = [
            f"The Shipyard tools named above ({names}) are not tools in this session. End instead with "
            "a final structured answer (JSON) that matches the given schema:",
            f"- the fields of `{self.closing.spec.name}`: {_fields(self.closing)};",
        ]
        lines += [
            f"- `{t.spec.name}`: a list with the arguments of each `{t.spec.name}` call ({_fields(t)}); "
            "an empty list if none;"
            for t in self.planning
        ]
        lines.append('Use "" for a text field you have nothing for, and 0 for a priority.')
        return "\n".join(lines)

    async def apply(
        self, answer: dict[str, Any], run: AgentRun, observer: Observer | None, step: int
    ) -> ToolResult:
        """Run the collected planning calls, then the closing tool; its result ends the run."""
        for tool in self.planning:
            calls = answer.get(tool.spec.name) or []
            if not isinstance(calls, list):
                calls = [calls]
            for args in calls:
                _report(observer, run, step, tool, args, await _call(tool, args))
        closing_args = {k: answer[k] for k in self.closing.spec.parameters["properties"] if k in answer}
        result = await _call(self.closing, closing_args)
        _report(observer, run, step, self.closing, closing_args, result)
        return result


async def _call(tool: Tool, args: Any) -> ToolResult:
    if not isinstance(args, dict):
        return error(f"`{tool.spec.name}` needs a JSON object, got {type(args).__name__}")
    problem = check_args(tool.spec, args)
    if problem is not None:
        return error(problem)
    try:
        return await tool.run(args)
    except ToolError as exc:
        return error(str(exc))


def _report(
    observer: Observer | None, run: AgentRun, step: int, tool: Tool, args: Any, result: ToolResult
) -> None:
    if observer is not None:
        payload = args if isinstance(args, dict) else {"value": args}
        observer.tool_called(run, step, tool.spec.name, payload, result)


def _strict(parameters: dict[str, Any]) -> dict[str, Any]:
    props = dict(parameters.get("properties", {}))
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def _fields(tool: Tool) -> str:
    return ", ".join(tool.spec.parameters.get("properties", {}))
