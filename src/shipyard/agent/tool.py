"""The `Tool` protocol, its result, and argument checks against a tool's JSON schema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from shipyard.models.base import ToolSpec

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
}


@dataclass(frozen=True)
class ToolResult:
    """What a tool returns to the agent; `finish` set means the agent is done, with that payload."""

    text: str
    finish: dict[str, Any] | None = None
    is_error: bool = False


def error(text: str) -> ToolResult:
    """A result that tells the agent what went wrong and how to fix it."""
    return ToolResult(text=f"error: {text}", is_error=True)


class Tool(Protocol):
    """One tool offered to an agent: its spec and how to run it."""

    spec: ToolSpec

    async def run(self, args: dict[str, Any]) -> ToolResult: ...


def schema(properties: dict[str, dict[str, Any]], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON schema for an object with the given properties."""
    return {"type": "object", "properties": properties, "required": list(required)}


def check_args(spec: ToolSpec, args: dict[str, Any]) -> str | None:
    """A message naming the first missing or wrong-typed argument, or None when the arguments fit."""
    properties: dict[str, Any] = spec.parameters.get("properties", {})
    for name in spec.parameters.get("required", []):
        if name not in args or args[name] is None:
            return f"`{spec.name}` needs the argument `{name}`"
    for name, value in args.items():
        prop = properties.get(name)
        if prop is None or value is None:
            continue
        problem = _type_problem(prop, value)
        if problem:
            return f"`{spec.name}`: argument `{name}` {problem}"
    return None


def _type_problem(prop: dict[str, Any], value: Any) -> str | None:
    expected = prop.get("type")
    if not _is_type(expected, value):
        return f"must be {_article(expected)}, got {_json_name(value)}"
    items = prop.get("items", {}).get("type")
    if expected == "array" and items:
        for i, item in enumerate(value):
            if not _is_type(items, item):
                return f"item {i} must be {_article(items)}, got {_json_name(item)}"
    return None


def _is_type(expected: Any, value: Any) -> bool:
    if not isinstance(expected, str) or expected not in _JSON_TYPES:
        return True
    if isinstance(value, bool) and expected in ("integer", "number"):
        return False
    return isinstance(value, _JSON_TYPES[expected])


def _json_name(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _article(name: Any) -> str:
    return f"an {name}" if str(name)[:1] in "aeiou" else f"a {name}"
