"""A realistic worker session for the `tokens` bench: what the model asks for and what the tools return.

40 steps by default: explore (list_dir, grep, four file reads), then rounds of read, edit, run the
tests, write a file, run the tests again, and `finish`. Sizes in characters (about four per token):
file reads 2,000-12,000 (a 50-300-line file), test logs 1,500-8,000, grep hits 500-2,500, folder
listings 300-1,000; edits send 200-1,500 characters each of old and new text, new files 2,000-8,000;
each reply has a 100-400-character thought. The system prompt and tools are the real worker's.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from shipyard.agent.files import EditFile, Grep, ListDir, ReadFile, WriteFile
from shipyard.agent.prompts import render_prompt
from shipyard.agent.roles import WorkerFinish
from shipyard.agent.shell import Shell
from shipyard.agent.tool import ToolResult
from shipyard.domain import Role
from shipyard.models.base import ToolSpec

WORKER_SPECS = (
    ReadFile.spec,
    WriteFile.spec,
    EditFile.spec,
    ListDir.spec,
    Grep.spec,
    Shell.spec,
    WorkerFinish.spec,
)
_ROUND = ("read_file", "edit_file", "shell", "read_file", "write_file", "shell")
_OUTPUT_CHARS = {
    "read_file": (2_000, 12_000),
    "shell": (1_500, 8_000),
    "grep": (500, 2_500),
    "list_dir": (300, 1_000),
    "edit_file": (40, 80),
    "write_file": (40, 80),
}


@dataclass(frozen=True)
class Step:
    """One model turn: a thought, one tool call, and what the tool answers."""

    thought: str
    tool: str
    args: dict[str, Any]
    output: str

    @property
    def arguments(self) -> str:
        return json.dumps(self.args)


def worker_session(steps: int = 40, seed: int = 0) -> list[Step]:
    """The session's steps, the last one `finish`; the same for the same seed."""
    rng = random.Random(seed)
    tools = ["list_dir", "grep", "read_file", "read_file", "read_file", "read_file"]
    while len(tools) < steps - 1:
        tools += _ROUND
    out = [_step(rng, i, tool) for i, tool in enumerate(tools[: steps - 1])]
    summary = {"summary": "Implemented the parser and its tests; the check passes.", "concerns": ""}
    return [*out, Step(_text(rng, 100, 400), "finish", summary, "finished")]


def system_and_prompt() -> tuple[str, str]:
    """The real worker prompts, for a typical task."""
    variables = {
        "check_command": "pytest -q",
        "title": "Parse the config file format v2",
        "description": "Support the v2 format (sections, lists, includes) in config/parse.py. " * 8,
        "acceptance": "tests/test_parse.py covers v2 and passes; v1 files still load.",
        "scope": "src/config/, tests/test_parse.py",
        "notes": "Keep one module per idea; no new dependencies.",
        "conflict": "",
    }
    return render_prompt(Role.WORKER, variables, None)


def _step(rng: random.Random, index: int, tool: str) -> Step:
    path = f"src/config/part_{index % 9}.py"
    args: dict[str, Any] = {"path": path}
    if tool == "shell":
        args = {"command": "pytest -q tests/test_parse.py"}
    elif tool == "grep":
        args = {"pattern": "def parse_", "path": "src"}
    elif tool == "list_dir":
        args = {"path": "src/config"}
    elif tool == "edit_file":
        args = {"path": path, "old": _text(rng, 200, 1_500), "new": _text(rng, 200, 1_500)}
    elif tool == "write_file":
        args = {"path": f"src/config/new_{index}.py", "content": _text(rng, 2_000, 8_000)}
    low, high = _OUTPUT_CHARS[tool]
    return Step(_text(rng, 100, 400), tool, args, _text(rng, low, high))


def _text(rng: random.Random, low: int, high: int) -> str:
    """Code-like lines adding up to a random size in [low, high]."""
    size = rng.randint(low, high)
    lines, total = [], 0
    while total < size:
        n = rng.randrange(10_000)
        line = f"    value_{n} = compute(item_{n % 97}, limit={n % 13})  # step {n % 7}\n"
        lines.append(line)
        total += len(line)
    return "".join(lines)[:size]


class PlannedTool:
    """A tool with a real worker tool's spec that answers with the planned outputs, in order."""

    def __init__(self, spec: ToolSpec, outputs: list[str]) -> None:
        self.spec = spec
        self._outputs = outputs

    async def run(self, args: dict[str, Any]) -> ToolResult:
        if self.spec.name == "finish":
            return ToolResult("finished", finish=dict(args))
        return ToolResult(self._outputs.pop(0) if self._outputs else "")


def planned_tools(steps: list[Step]) -> tuple[PlannedTool, ...]:
    """One tool per real worker spec, each answering with its steps' outputs in order."""
    return tuple(PlannedTool(spec, [s.output for s in steps if s.tool == spec.name]) for spec in WORKER_SPECS)
