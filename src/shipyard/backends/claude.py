"""Claude Code (npm `@anthropic-ai/claude-code`) as a backend: `claude -p --output-format stream-json`.

Role tools: structured output (`--json-schema`); Claude Code offers the model a `StructuredOutput` tool
and puts its arguments in the final `result` event. Permissions: the role's tools only (workers edit
and run commands; planners only read; the judge reads and runs commands); `acceptEdits` approves edits
inside the worktree, and edits are deliberately not pre-allowed, so one outside it is refused rather
than asked about (stdin is a file: nobody could answer). Offline and private: its own HOME and
`CLAUDE_CONFIG_DIR`, no setting sources, no MCP servers, no slash commands, non-essential traffic off.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from shipyard.agent import AgentRun, Observer, StopReason, ToolResult
from shipyard.backends.dialect import Job, Launch, Report
from shipyard.domain import Role
from shipyard.models.base import ModelResponse, ToolCall, Usage

PACKAGE = "@anthropic-ai/claude-code"
DEFAULT_BASE_URL = "https://api.anthropic.com"
READ_TOOLS = ("Read", "Glob", "Grep")
EDIT_TOOLS = ("Edit", "Write")  # approved by `acceptEdits` inside the worktree only
ROLE_TOOLS = {
    Role.WORKER: (*READ_TOOLS, "Edit", "Write", "Bash"),
    Role.PLANNER: READ_TOOLS,
    Role.SUBPLANNER: READ_TOOLS,
    Role.JUDGE: (*READ_TOOLS, "Bash"),
}
OFFLINE_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
}


def bash_env(home: Path, path: str) -> dict[str, str]:
    """Bash sees the one command environment, whatever the machine's shell start-up files do: Claude
    Code applies `CLAUDE_ENV_FILE` before each command (it exports `PATH`), and returns to the worktree
    after each one."""
    script = home / "bash-env.sh"
    script.write_text(f"export PATH={shlex.quote(path)}\n", encoding="utf-8")
    return {"CLAUDE_ENV_FILE": str(script), "CLAUDE_BASH_MAINTAIN_PROJECT_WORKING_DIR": "1"}


class ClaudeDialect:
    name = "claude"
    provider = "anthropic"

    def launch(self, job: Job) -> Launch:
        tools = ",".join(ROLE_TOOLS[job.run.role])
        allowed = ",".join(t for t in ROLE_TOOLS[job.run.role] if t not in EDIT_TOOLS)
        argv = [str(job.settings.binary), "-p", "--output-format", "stream-json", "--verbose"]
        argv += ["--max-turns", str(job.run.limits.max_steps), "--json-schema", json.dumps(job.schema)]
        argv += ["--permission-mode", "acceptEdits", "--tools", tools, "--allowedTools", allowed]
        argv += ["--append-system-prompt", job.run.system, "--no-session-persistence"]
        argv += ["--setting-sources", "", "--strict-mcp-config", "--disable-slash-commands"]
        if job.settings.model:
            argv += ["--model", job.settings.model]
        extra = {**OFFLINE_ENV, "ANTHROPIC_API_KEY": job.endpoint.token}
        extra["ANTHROPIC_BASE_URL"] = job.endpoint.base_url
        extra["CLAUDE_CONFIG_DIR"] = str(job.home.root / ".claude")
        extra.update(bash_env(job.home.root, job.home.env(job.environ, job.run.agent, {})["PATH"]))
        prompt = job.home.root / "prompt.md"
        prompt.write_text(job.prompt, encoding="utf-8")
        return Launch(argv, job.home.env(job.environ, job.run.agent, extra), prompt)

    def transcript(self, run: AgentRun, observer: Observer | None) -> ClaudeTranscript:
        return ClaudeTranscript(run, observer)


class ClaudeTranscript:
    """Reads `stream-json` events: assistant messages, tool results, and the closing `result`."""

    def __init__(self, run: AgentRun, observer: Observer | None) -> None:
        self.run = run
        self.observer = observer
        self.report = Report()
        self._message_id = ""
        self._calls: dict[str, ToolCall] = {}
        self._tokens: dict[str, int] = {}

    def feed(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "assistant":
            self._assistant(event.get("message") or {})
        elif kind == "user":
            self._tool_results(event.get("message") or {})
        elif kind == "result":
            self._result(event)

    def _assistant(self, message: dict[str, Any]) -> None:
        msg_id = str(message.get("id", ""))
        if msg_id != self._message_id or not msg_id:
            self._message_id = msg_id
            self.report.steps += 1
        usage = message.get("usage") or {}
        self._tokens[msg_id] = _input_tokens(usage) + int(usage.get("output_tokens") or 0)
        self.report.running_tokens = sum(self._tokens.values())
        blocks = [b for b in message.get("content") or [] if isinstance(b, dict)]
        text = "\n".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
        calls = tuple(
            ToolCall(str(b.get("id", "")), str(b.get("name", "")), _arguments(b.get("input")))
            for b in blocks
            if b.get("type") == "tool_use"
        )
        self._calls.update({call.id: call for call in calls})
        if self.observer is not None and (text or calls):
            self.observer.model_called(self.run, self.report.steps, ModelResponse(text, calls))

    def _tool_results(self, message: dict[str, Any]) -> None:
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            call = self._calls.get(str(block.get("tool_use_id", "")))
            name, args = (call.name, call.arguments) if call else ("unknown", {})
            result = ToolResult(_result_text(block.get("content")), is_error=bool(block.get("is_error")))
            if self.observer is not None:
                self.observer.tool_called(self.run, self.report.steps, name, args, result)

    def _result(self, event: dict[str, Any]) -> None:
        usage = event.get("usage") or {}
        self.report.usage = Usage(
            _input_tokens(usage),
            int(usage.get("output_tokens") or 0),
            cache_read_tokens=int(usage.get("cache_read_input_tokens") or 0),
            cache_write_tokens=int(usage.get("cache_creation_input_tokens") or 0),
        )
        self.report.cost_usd = float(event.get("total_cost_usd") or 0.0)
        self.report.steps = max(self.report.steps, int(event.get("num_turns") or 0))
        subtype = str(event.get("subtype", ""))
        if subtype == "error_max_turns":
            self.report.stop = StopReason.MAX_STEPS
            self.report.error = f"Claude Code reached --max-turns {self.run.limits.max_steps}"
        elif event.get("is_error") or subtype != "success":
            self.report.error = str(event.get("result") or subtype or "error")[:2000]
        elif isinstance(event.get("structured_output"), dict):
            self.report.final = event["structured_output"]


def _arguments(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"input": value}


def _input_tokens(usage: dict[str, Any]) -> int:
    keys = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return sum(int(usage.get(key) or 0) for key in keys)


def _result_text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return str(content or "")
