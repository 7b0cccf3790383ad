"""The real Claude Code and Codex as workers against `fake_llm`: where `scripts/test.sh` installs them, and
what their fake model answers (one shell command writing hello.py, then the structured handoff)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from fake_llm import FakeReply, count_tool_results
from shipyard.models.pricing import Price

NPM_BIN = Path(__file__).resolve().parents[2] / ".venv" / "npm" / "node_modules" / ".bin"
HELLO = 'def greet(name):\n    return f"hello {name}"\n'
WRITE_HELLO = f"cat > hello.py <<'EOF'\n{HELLO}EOF"
HANDOFF = {"summary": "wrote hello.py", "concerns": "", "deviations": ""}
CODEX_PRICE = Price(input_per_mtok=1.0, output_per_mtok=4.0)
MODELS = {"claude": ("claude-sonnet-4-5", "anthropic"), "codex": ("fake-codex", "openai")}


def cli_binary(name: str) -> Path:
    """The real CLI that `scripts/test.sh` installs; a skip when it is absent (a failure under CI)."""
    path = NPM_BIN / name
    if path.is_file():
        return path
    why = f"the `{name}` CLI is not installed (`bash scripts/test.sh` installs it into {NPM_BIN.parent})"
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


def claude_worker(api: str, body: dict[str, Any]) -> FakeReply:
    """Claude Code's model: one Bash command, then the structured answer."""
    assert api == "anthropic", api
    if count_tool_results(api, body) == 0:
        return FakeReply(text="Writing hello.py.", tool_calls=[("Bash", {"command": WRITE_HELLO})])
    return FakeReply(tool_calls=[("StructuredOutput", HANDOFF)])


def codex_worker(api: str, body: dict[str, Any]) -> FakeReply:
    """Codex's model: one shell command, then the structured answer as the last message."""
    assert api == "responses", api
    if count_tool_results(api, body) == 0:
        return FakeReply(tool_calls=[("exec_command", {"cmd": WRITE_HELLO})])
    return FakeReply(text=json.dumps(HANDOFF))


WORKERS = {"claude": claude_worker, "codex": codex_worker}
