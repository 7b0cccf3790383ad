"""`ScriptedModel`: plays recorded or programmed turns per role, records every call, fails loudly.

A turn is either a `ModelResponse` (recorded: played once, in order) or a function of the request
(programmed: it may inspect the conversation and is played once per call it answers). A role whose
turns run out raises `ScriptError`; `assert_done()` raises if recorded turns were never played.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.domain import Role
from shipyard.errors import ConfigError, ScriptError
from shipyard.models.base import ModelRequest, ModelResponse, ToolCall, Usage

Program = Callable[[ModelRequest], ModelResponse]
Turn = ModelResponse | Program


@dataclass
class _RoleScript:
    recorded: list[ModelResponse] = field(default_factory=list)
    program: Program | None = None


class ScriptedModel:
    """A deterministic model for tests and the demo."""

    def __init__(
        self,
        recorded: Mapping[Role, Sequence[ModelResponse]] | None = None,
        programs: Mapping[Role, Program] | None = None,
        name: str = "scripted",
    ) -> None:
        self.name = name
        self.calls: list[ModelRequest] = []
        self._lock = threading.Lock()
        self._roles: dict[Role, _RoleScript] = {}
        for role, turns in (recorded or {}).items():
            self._roles.setdefault(role, _RoleScript()).recorded.extend(turns)
        for role, program in (programs or {}).items():
            self._roles.setdefault(role, _RoleScript()).program = program

    async def complete(self, request: ModelRequest) -> ModelResponse:
        with self._lock:
            self.calls.append(request)
            script = self._roles.get(request.role)
            if script is not None and script.recorded:
                return script.recorded.pop(0)
        if script is not None and script.program is not None:
            return script.program(request)
        raise ScriptError(
            f"scripted model `{self.name}`: unexpected turn for role {request.role.value} "
            f"(agent {request.agent}, call {len(self.calls)}): no turns left"
        )

    def leftover(self) -> dict[Role, int]:
        """Recorded turns never played, by role."""
        return {role: len(s.recorded) for role, s in self._roles.items() if s.recorded}

    def assert_done(self) -> None:
        left = self.leftover()
        if left:
            detail = ", ".join(f"{role.value}: {n}" for role, n in left.items())
            raise ScriptError(f"scripted model `{self.name}` has turns that were never played ({detail})")


def call(name: str, call_id: str = "", **arguments: Any) -> ToolCall:
    """A tool call for scripts: `call("write_file", path="a.py", content="...")`."""
    return ToolCall(id=call_id or f"call_{name}", name=name, arguments=arguments)


def turn(*calls: ToolCall, text: str = "", tokens: tuple[int, int] = (100, 20)) -> ModelResponse:
    """One scripted reply with the given tool calls and a token count."""
    return ModelResponse(text=text, tool_calls=calls, usage=Usage(*tokens))


def load_recorded(path: Path) -> ScriptedModel:
    """Load recorded turns from JSON: `{"worker": [{"text": "", "tool_calls": [{"name", "arguments"}]}]}`."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"scripted model file {path}: cannot read it as JSON ({exc}); fix it") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"scripted model file {path}: expected an object of role -> list of turns")
    recorded: dict[Role, list[ModelResponse]] = {}
    for key, turns in raw.items():
        try:
            role = Role(key)
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise ConfigError(
                f"scripted model file {path}: unknown role `{key}`; expected one of {roles}"
            ) from None
        recorded[role] = [_turn_from_json(t, i) for i, t in enumerate(turns)]
    return ScriptedModel(recorded=recorded, name=f"scripted:{path.name}")


def _turn_from_json(raw: dict[str, Any], index: int) -> ModelResponse:
    calls = tuple(
        ToolCall(id=c.get("id", f"call_{index}_{j}"), name=c["name"], arguments=c.get("arguments", {}))
        for j, c in enumerate(raw.get("tool_calls", []))
    )
    usage = Usage(raw.get("input_tokens", 100), raw.get("output_tokens", 20))
    return ModelResponse(text=raw.get("text", ""), tool_calls=calls, usage=usage)
