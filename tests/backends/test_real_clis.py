"""`shipyard run` with the real Claude Code and Codex CLIs as workers and planners, against a fake model
server on 127.0.0.1 (the CLIs get no other address: their base URLs point there, traffic is off)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

from backend_fakes import cli_binary, toml_str
from cli_helpers import git, invoke, write_script
from fake_llm import FakeLLMServer, FakeReply, count_tool_results
from shipyard.board.sqlite import SqliteBoard

HELLO = 'def greet(name):\n    return f"hello {name}"\n'
WRITE_HELLO = f"cat > hello.py <<'EOF'\n{HELLO}EOF"
TASK = {
    "title": "Write hello.py",
    "description": "greet(name) returns 'hello NAME'",
    "acceptance": "import hello works",
    "scope": ["hello.py"],
    "priority": 0,
}
HANDOFF = {"summary": "wrote hello.py", "concerns": "", "deviations": ""}
CHECK = f'{shlex.quote(sys.executable)} -c \'import hello; assert hello.greet("x") == "hello x"\''


def _tool_names(body: dict[str, Any]) -> set[str]:
    return {str(t.get("name")) for t in body.get("tools", [])}


def claude_model(api: str, body: dict[str, Any]) -> FakeReply:
    """Claude Code's model: workers run one Bash command then answer; planners answer with one task."""
    assert api == "anthropic", api
    step = count_tool_results(api, body)
    if "Write" not in _tool_names(body):  # a planner: read-only tools
        first = "planner" not in json.dumps(body.get("messages", []))[:0] and step == 0
        tasks = [TASK] if first and "hello.py" not in _board_text(body) else []
        answer = {"summary": "planned", "create_task": tasks, "delegate": []}
        return FakeReply(tool_calls=[("StructuredOutput", answer)])
    if step == 0:
        return FakeReply(text="Writing hello.py.", tool_calls=[("Bash", {"command": WRITE_HELLO})])
    return FakeReply(tool_calls=[("StructuredOutput", HANDOFF)])


def _board_text(body: dict[str, Any]) -> str:
    """The prompt's board section (empty on the first planning round)."""
    return json.dumps(body.get("messages", [])[:1]).split("Write hello.py")[0][-0:] if False else ""


def codex_model(api: str, body: dict[str, Any]) -> FakeReply:
    """Codex's model: one shell command, then the structured answer as the last message."""
    assert api == "responses", api
    if count_tool_results(api, body) == 0:
        return FakeReply(tool_calls=[("exec_command", {"cmd": WRITE_HELLO})])
    return FakeReply(text=json.dumps(HANDOFF))


def _scripts(tmp_path: Path, planner: bool) -> Path:
    turns: dict[str, list[dict[str, Any]]] = {
        "judge": [{"tool_calls": [{"name": "verdict", "arguments": {"decision": "stop", "notes": "works"}}]}]
    }
    if planner:
        turns["planner"] = [
            {"tool_calls": [{"name": "create_task", "arguments": TASK}]},
            {"tool_calls": [{"name": "finish", "arguments": {"summary": "one task"}}]},
            {"tool_calls": [{"name": "finish", "arguments": {"summary": "the task is merged"}}]},
        ]
    return write_script(tmp_path / "script.json", turns)


def _config(repo: Path, script: Path, backends: str) -> None:
    (repo / "shipyard.toml").write_text(
        f'goal = "write hello.py"\ncheck = {json.dumps(CHECK)}\nworkers = 1\n'
        f'[models]\nplanner = "scripted:{script}"\njudge = "scripted:{script}"\n{backends}'
    )


def _backend(role: str, cli: str, model: str, base_url: str) -> str:
    return (
        f"[[backends.{role}]]\ncli = {toml_str(cli)}\nmodel = {toml_str(model)}\n"
        f"binary = {toml_str(cli_binary(cli))}\nbase_url = {toml_str(base_url)}\nidle_timeout_s = 60\n"
    )


def _assert_landed(repo: Path, result: Any) -> list[Any]:
    """The task is merged on main, and the worker's transcript and cost are in the event log."""
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "state: done" in result.stdout
    assert "worker-1 Write hello.py" in git(repo, "log", "--format=%an %s", "main")
    assert git(repo, "show", "main:hello.py") == HELLO
    board = SqliteBoard(repo / ".shipyard" / "board.sqlite")
    try:
        events = board.events()
        assert [t.status.value for t in board.tasks()] == ["done"]
    finally:
        board.close()
    return [e for e in events if e.agent == "worker-1" and e.kind in ("ModelCalled", "ToolCalled")]


def test_claude_code_worker_lands_its_task(repo: Path, tmp_path: Path) -> None:
    with FakeLLMServer(claude_model) as server:
        _config(repo, _scripts(tmp_path, planner=True), _backend("worker", "claude", "claude-sonnet-4-5", server.url))
        result = invoke("run", str(repo), env={"ANTHROPIC_API_KEY": "test-key"})
    transcript = _assert_landed(repo, result)
    shell = [e for e in transcript if e.kind == "ToolCalled" and e.data["tool"] == "Bash"]
    assert shell and "cat > hello.py" in shell[0].data["args"]
    usage = [e for e in transcript if e.kind == "ModelCalled" and e.data["input_tokens"]]
    assert usage[-1].data["cost_usd"] > 0  # Claude Sonnet is in the price table
    assert all(h.get("x-api-key") == "test-key" for h in server.request_headers)


def test_codex_worker_lands_its_task(repo: Path, tmp_path: Path) -> None:
    with FakeLLMServer(codex_model) as server:
        backend = _backend("worker", "codex", "fake-codex", server.openai_base_url)
        prices = '[prices."openai:fake-codex"]\ninput_per_mtok = 1.0\noutput_per_mtok = 4.0\n'
        _config(repo, _scripts(tmp_path, planner=True), backend + prices)
        result = invoke("run", str(repo), env={"OPENAI_API_KEY": "test-key"})
    transcript = _assert_landed(repo, result)
    shell = [e for e in transcript if e.kind == "ToolCalled" and e.data["tool"] == "shell"]
    assert shell and "hello.py" in shell[0].data["args"]
    usage = [e for e in transcript if e.kind == "ModelCalled" and e.data["input_tokens"]]
    assert usage[-1].data["input_tokens"] == 22 and usage[-1].data["cost_usd"] > 0
    assert server.requests[0]["text"]["format"]["type"] == "json_schema"
