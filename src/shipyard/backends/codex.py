"""OpenAI Codex CLI (npm `@openai/codex`) as a backend: `codex exec --json`.

Role tools: structured output (`--output-schema FILE`); the last agent message is the JSON answer.
Config: a private `CODEX_HOME` whose `config.toml` names one provider (the configured base URL, Responses
API, the one key), approval never, no update check, no plugins, no web search, no analytics, no history.
Sandbox: inside Shipyard's sandbox, Codex's own is off (bubblewrap cannot nest there); unconfined,
`workspace-write` for workers and `read-only` for planners and the judge. Codex needs a
`codex-linux-sandbox` link to its own binary on PATH when its home is under a temporary folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from shipyard.agent import AgentRun, Observer, ToolResult
from shipyard.backends.dialect import Job, Launch, Report
from shipyard.domain import Role
from shipyard.models.base import ModelResponse, Usage

PACKAGE = "@openai/codex"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
TOKEN_ENV = "SHIPYARD_GATEWAY_TOKEN"  # Codex reads its run's gateway token from here (`env_key`)


class CodexDialect:
    name = "codex"
    provider = "openai"

    def launch(self, job: Job) -> Launch:
        codex_home = job.home.root / ".codex"
        codex_home.mkdir()
        (codex_home / "config.toml").write_text(_config(job), encoding="utf-8")
        schema = job.home.root / "answer.schema.json"
        schema.write_text(json.dumps(job.schema), encoding="utf-8")
        _link_sandbox_helper(job.settings.binary, job.home.bin)
        sandbox = "workspace-write" if job.run.role is Role.WORKER else "read-only"
        if job.confined:  # Shipyard's sandbox confines it; Codex's own cannot nest inside it
            sandbox = "danger-full-access"
        argv = [str(job.settings.binary), "exec", "--json", "--skip-git-repo-check", "--ephemeral"]
        argv += ["-C", str(job.worktree), "--sandbox", sandbox, "--output-schema", str(schema)]
        prompt = job.home.root / "prompt.md"
        prompt.write_text(f"{job.run.system}\n\n{job.prompt}", encoding="utf-8")
        extra = {"CODEX_HOME": str(codex_home), TOKEN_ENV: job.endpoint.token}
        return Launch(argv, job.home.env(job.environ, job.run.agent, extra), prompt)

    def transcript(self, run: AgentRun, observer: Observer | None) -> CodexTranscript:
        return CodexTranscript(run, observer)


def _config(job: Job) -> str:
    model = job.settings.model
    lines = [
        f"model = {json.dumps(model)}" if model else "",
        'model_provider = "shipyard"',
        'approval_policy = "never"',
        "allow_login_shell = false",  # a login shell would run /etc/profile, which may reset PATH
        "check_for_update_on_startup = false",
        'web_search = "disabled"',
        "[model_providers.shipyard]",
        'name = "shipyard"',
        f"base_url = {json.dumps(job.endpoint.base_url)}",
        f"env_key = {json.dumps(TOKEN_ENV)}",
        'wire_api = "responses"',
        "[shell_environment_policy]",  # Codex's own environment (Shipyard's allow-list), less its token
        'inherit = "all"',
        "ignore_default_excludes = false",
        f"exclude = [{json.dumps(TOKEN_ENV)}]",
        "[features]",
        "plugins = false",
        "[analytics]",
        "enabled = false",
        "[history]",
        'persistence = "none"',
    ]
    return "\n".join(line for line in lines if line) + "\n"


def _link_sandbox_helper(binary: Path, bin_dir: Path) -> None:
    """Codex re-runs its own native binary as `codex-linux-sandbox`; offer it under that name."""
    native = native_binary(binary)
    if native is not None:
        os.symlink(native, bin_dir / "codex-linux-sandbox")


def native_binary(binary: Path) -> Path | None:
    """The native `codex` executable behind the npm package's `codex.js` launcher (or `binary` itself)."""
    real = binary.resolve()
    if real.suffix != ".js":
        return real
    modules = real.parent.parent.parent  # node_modules/@openai/codex/bin/codex.js -> node_modules/@openai
    found = sorted(modules.glob("codex*/vendor/*/bin/codex")) + sorted(
        modules.glob("codex*/vendor/*/codex/codex")
    )
    return found[0] if found else None


class CodexTranscript:
    """Reads `exec --json` events: items (messages, commands, file changes) and the turn's usage."""

    def __init__(self, run: AgentRun, observer: Observer | None) -> None:
        self.run = run
        self.observer = observer
        self.report = Report()
        self._last_message = ""

    def feed(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "item.completed":
            self._item(event.get("item") or {})
        elif kind == "turn.completed":
            usage = event.get("usage") or {}
            self.report.usage += Usage(  # input_tokens include the cached ones (OpenAI's convention)
                int(usage.get("input_tokens") or 0),
                int(usage.get("output_tokens") or 0),
                cache_read_tokens=int(usage.get("cached_input_tokens") or 0),
            )
            self.report.running_tokens = self.report.usage.total
            self._answer()
        elif kind == "turn.failed":
            self.report.error = str((event.get("error") or {}).get("message") or "the turn failed")[:2000]
        elif kind == "error":
            self.report.error = str(event.get("message") or "error")[:2000]

    def _item(self, item: dict[str, Any]) -> None:
        kind = str(item.get("type", ""))
        if kind == "agent_message":
            self.report.steps += 1
            self._last_message = str(item.get("text", ""))
            if self.observer is not None:
                self.observer.model_called(self.run, self.report.steps, ModelResponse(self._last_message))
            return
        if kind == "reasoning":
            return
        name, args, result = _tool_view(kind, item)
        if self.observer is not None:
            self.observer.tool_called(self.run, self.report.steps, name, args, result)

    def _answer(self) -> None:
        try:
            answer = json.loads(self._last_message)
        except ValueError:
            return
        if isinstance(answer, dict):
            self.report.final = answer
            self.report.error = None  # e.g. a retried stream error before the turn completed


def _tool_view(kind: str, item: dict[str, Any]) -> tuple[str, dict[str, Any], ToolResult]:
    """A Codex item as a tool call for the transcript."""
    if kind == "command_execution":
        code = item.get("exit_code")
        text = f"exit code {code}\n{item.get('aggregated_output', '')}"
        return "shell", {"command": item.get("command", "")}, ToolResult(text, is_error=code not in (0, None))
    if kind == "file_change":
        return "file_change", {"changes": item.get("changes", [])}, ToolResult(str(item.get("status", "")))
    if kind == "mcp_tool_call":
        name = f"{item.get('server', '')}.{item.get('tool', '')}"
        failed = item.get("status") == "failed"
        return (
            name,
            {"arguments": item.get("arguments")},
            ToolResult(json.dumps(item.get("result")), is_error=failed),
        )
    if kind == "error":
        return "codex.notice", {}, ToolResult(str(item.get("message", "")), is_error=True)
    rest = {k: v for k, v in item.items() if k not in ("id", "type")}
    return f"codex.{kind}", rest, ToolResult("")
