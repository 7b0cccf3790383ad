"""`shipyard run` with the real Claude Code and Codex CLIs as workers and planners, against a fake model
server on 127.0.0.1 (the CLIs get no other address: their base URLs point there, traffic is off)."""

from __future__ import annotations

import json
import shlex
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from backend_fakes import RecordingProxy, cli_binary, toml_str

from cli_helpers import git, invoke, write_script
from fake_llm import INPUT_TOKENS, OUTPUT_TOKENS, FakeLLMServer, FakeReply, count_tool_results
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
PRICES = '[prices."openai:fake-codex"]\ninput_per_mtok = 1.0\noutput_per_mtok = 4.0\n'
CHECK = f'{shlex.quote(sys.executable)} -c \'import hello; assert hello.greet("x") == "hello x"\''


def _tool_names(body: dict[str, Any]) -> set[str]:
    return {str(t.get("name")) for t in body.get("tools", [])}


class ClaudeModel:
    """Claude Code's model: a worker runs one Bash command then answers; the first planning round
    answers with one task, later rounds (wake-ups) with none."""

    def __init__(self) -> None:
        self.plans = 0

    def __call__(self, api: str, body: dict[str, Any]) -> FakeReply:
        assert api == "anthropic", api
        if "Write" not in _tool_names(body):  # planners get read-only tools
            self.plans += 1
            answer = {"summary": "planned", "create_task": [TASK] if self.plans == 1 else [], "delegate": []}
            return FakeReply(tool_calls=[("StructuredOutput", answer)])
        if count_tool_results(api, body) == 0:
            return FakeReply(text="Writing hello.py.", tool_calls=[("Bash", {"command": WRITE_HELLO})])
        return FakeReply(tool_calls=[("StructuredOutput", HANDOFF)])


def codex_model(api: str, body: dict[str, Any]) -> FakeReply:
    """Codex's model: one shell command, then the structured answer as the last message."""
    assert api == "responses", api
    if count_tool_results(api, body) == 0:
        return FakeReply(tool_calls=[("exec_command", {"cmd": WRITE_HELLO})])
    return FakeReply(text=json.dumps(HANDOFF))


def _scripts(tmp_path: Path) -> Path:
    """A scripted planner (one task, then two finishes) and judge (stop) for the runs with CLI workers."""
    return write_script(
        tmp_path / "script.json",
        {
            "planner": [
                {"tool_calls": [{"name": "create_task", "arguments": TASK}]},
                {"tool_calls": [{"name": "finish", "arguments": {"summary": "one task"}}]},
                {"tool_calls": [{"name": "finish", "arguments": {"summary": "the task is merged"}}]},
            ],
            "judge": [
                {"tool_calls": [{"name": "verdict", "arguments": {"decision": "stop", "notes": "ok"}}]}
            ],
        },
    )


def _config(repo: Path, script: Path, backends: str) -> None:
    (repo / "shipyard.toml").write_text(
        f'goal = "write hello.py"\ncheck = {json.dumps(CHECK)}\nworkers = 1\n'
        f'[models]\nplanner = "scripted:{script}"\njudge = "scripted:{script}"\n{backends}'
    )


def _backend(role: str, cli: str, model: str, base_url: str, idle_s: float = 60) -> str:
    return (
        f"[[backends.{role}]]\ncli = {toml_str(cli)}\nmodel = {toml_str(model)}\n"
        f"binary = {toml_str(cli_binary(cli))}\nbase_url = {toml_str(base_url)}\nidle_timeout_s = {idle_s}\n"
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
    with FakeLLMServer(ClaudeModel()) as server:
        _config(
            repo,
            _scripts(tmp_path),
            _backend("worker", "claude", "claude-sonnet-4-5", server.url),
        )
        with RecordingProxy() as proxy:
            result = invoke("run", str(repo), env={"ANTHROPIC_API_KEY": "test-key", **proxy.env()})
    assert proxy.requests == []  # no traffic but to the fake model server
    transcript = _assert_landed(repo, result)
    shell = [e for e in transcript if e.kind == "ToolCalled" and e.data["tool"] == "Bash"]
    assert shell and "cat > hello.py" in shell[0].data["args"]
    usage = [e for e in transcript if e.kind == "ModelCalled" and e.data["input_tokens"]]
    assert usage[-1].data["cost_usd"] > 0  # Claude Sonnet is in the price table
    served = [(INPUT_TOKENS, OUTPUT_TOKENS)] * len(server.requests)  # every call metered by the gateway
    assert [(e.data["input_tokens"], e.data["output_tokens"]) for e in usage] == served
    assert all(h.get("x-api-key") == "test-key" for h in server.request_headers)  # added by the gateway


def test_codex_worker_lands_its_task(repo: Path, tmp_path: Path) -> None:
    with FakeLLMServer(codex_model) as server:
        backend = _backend("worker", "codex", "fake-codex", server.openai_base_url)
        _config(repo, _scripts(tmp_path), backend + PRICES)
        with RecordingProxy() as proxy:
            result = invoke("run", str(repo), env={"OPENAI_API_KEY": "test-key", **proxy.env()})
    assert proxy.requests == []  # no traffic but to the fake model server
    transcript = _assert_landed(repo, result)
    shell = [e for e in transcript if e.kind == "ToolCalled" and e.data["tool"] == "shell"]
    assert shell and "hello.py" in shell[0].data["args"]
    usage = [e.data for e in transcript if e.kind == "ModelCalled" and e.data["input_tokens"]]
    assert len(usage) == len(server.requests) == 2  # metered by the gateway, call by call
    assert [(u["input_tokens"], u["output_tokens"]) for u in usage] == [(INPUT_TOKENS, OUTPUT_TOKENS)] * 2
    assert sum(u["cost_usd"] for u in usage) == pytest.approx(2 * (INPUT_TOKENS + 4 * OUTPUT_TOKENS) / 1e6)
    assert server.requests[0]["text"]["format"]["type"] == "json_schema"
    assert all(h.get("authorization") == "Bearer test-key" for h in server.request_headers)


def codex_judge_or_worker(api: str, body: dict[str, Any]) -> FakeReply:
    """Codex as worker and judge: the answer's schema tells which role is asking."""
    if "decision" in body["text"]["format"]["schema"]["properties"]:
        return FakeReply(text=json.dumps({"decision": "stop", "notes": "hello.py works"}))
    return codex_model(api, body)


def test_every_role_on_clis_planner_on_claude_code(repo: Path) -> None:
    claude, codex = ClaudeModel(), codex_judge_or_worker
    with FakeLLMServer(claude) as claude_server, FakeLLMServer(codex) as codex_server:
        backends = (
            _backend("planner", "claude", "claude-sonnet-4-5", claude_server.url)
            + _backend("worker", "codex", "fake-codex", codex_server.openai_base_url)
            + _backend("judge", "codex", "fake-codex", codex_server.openai_base_url)
        )
        (repo / "shipyard.toml").write_text(
            f'goal = "write hello.py"\ncheck = {json.dumps(CHECK)}\n{backends}'
        )
        result = invoke("run", str(repo), env={"ANTHROPIC_API_KEY": "k-1", "OPENAI_API_KEY": "k-2"})
    _assert_landed(repo, result)
    assert claude.plans == 2  # the first round wrote the task; the wake-up after it merged wrote none
    planner_prompt = json.dumps(claude_server.requests[0]["messages"])
    assert "create_task" in planner_prompt and "write hello.py" in planner_prompt
    board = SqliteBoard(repo / ".shipyard" / "board.sqlite")
    try:
        verdicts = [e.data for e in board.events() if e.kind == "VerdictGiven"]
        created = [e for e in board.events() if e.kind == "TaskCreated"]
    finally:
        board.close()
    assert verdicts[-1]["decision"] == "stop" and verdicts[-1]["notes"] == "hello.py works"
    assert len(created) == 1


class StrayingClaude(ClaudeModel):
    """A worker that first tries to write into the person's checkout, then does its task."""

    def __call__(self, api: str, body: dict[str, Any]) -> FakeReply:
        if "Write" in _tool_names(body) and count_tool_results(api, body) == 0:
            text = json.dumps(body["messages"])
            worktree = Path(text.split("Work only inside ", 1)[1].split(" (use absolute", 1)[0])
            stray = {"file_path": str(worktree.parents[2] / "stray.txt"), "content": "oops\n"}
            return FakeReply(tool_calls=[("Write", stray)])
        if "Write" in _tool_names(body):
            body = {**body, "messages": body["messages"][:-2]}  # go on as if the stray write never was
        return super().__call__(api, body)


def test_claude_code_cannot_edit_outside_its_worktree(repo: Path, tmp_path: Path) -> None:
    with FakeLLMServer(StrayingClaude()) as server:
        _config(
            repo,
            _scripts(tmp_path),
            _backend("worker", "claude", "claude-sonnet-4-5", server.url),
        )
        result = invoke("run", str(repo), env={"ANTHROPIC_API_KEY": "test-key"})
    transcript = _assert_landed(repo, result)
    assert not (repo / "stray.txt").exists()
    refused = [e.data for e in transcript if e.kind == "ToolCalled" and e.data["tool"] == "Write"]
    assert refused[0]["is_error"] and "permission" in refused[0]["result"]


class SilentOnce(ClaudeModel):
    """A model that never answers the first worker request: Claude Code waits in silence."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.silent = False

    def __call__(self, api: str, body: dict[str, Any]) -> FakeReply:
        if "Write" in _tool_names(body) and not self.silent:
            self.silent = True
            self.release.wait(60)
            return FakeReply(text="too late", status=503)
        return super().__call__(api, body)


def test_a_silent_claude_code_is_stopped_and_its_task_returns(repo: Path, tmp_path: Path) -> None:
    model = SilentOnce()
    with FakeLLMServer(model) as server:  # 4 s of silence: well above Claude Code's start-up, even under load
        backend = _backend("worker", "claude", "claude-sonnet-4-5", server.url, idle_s=4)
        _config(repo, _scripts(tmp_path), backend)
        try:
            result = invoke("run", str(repo), env={"ANTHROPIC_API_KEY": "test-key"})
        finally:
            model.release.set()
    _assert_landed(repo, result)
    board = SqliteBoard(repo / ".shipyard" / "board.sqlite")
    try:
        stopped = [e.data for e in board.events() if e.kind == "CliStopped"]
        (task,) = board.tasks()
    finally:
        board.close()
    assert [s["cause"] for s in stopped] == ["idle"] and task.attempts == 2


KEY = "sk-ant-api03-SECRET-of-the-person-0123456789abcdef"
PROBE = "env; tr '\\0' '\\n' < /proc/$PPID/environ; tr '\\0' '\\n' < /proc/self/environ; "


class ProbingClaude(ClaudeModel):
    """A prompt-injected worker: dumps its environment and its parent's, then does its task."""

    def __call__(self, api: str, body: dict[str, Any]) -> FakeReply:
        if "Write" in _tool_names(body) and count_tool_results(api, body) == 0:
            return FakeReply(tool_calls=[("Bash", {"command": PROBE + WRITE_HELLO})])
        return super().__call__(api, body)


def probing_codex(api: str, body: dict[str, Any]) -> FakeReply:
    if count_tool_results(api, body) == 0:
        return FakeReply(tool_calls=[("exec_command", {"cmd": PROBE + WRITE_HELLO})])
    return codex_model(api, body)


@pytest.mark.parametrize("cli", ["claude", "codex"])
def test_the_key_never_reaches_a_cli_only_its_gateway_token(repo: Path, tmp_path: Path, cli: str) -> None:
    model, name, key_env = (
        (ProbingClaude(), "claude-sonnet-4-5", "ANTHROPIC_API_KEY")
        if cli == "claude"
        else (probing_codex, "fake-codex", "OPENAI_API_KEY")
    )
    with FakeLLMServer(model) as server:
        url = server.url if cli == "claude" else server.openai_base_url
        _config(repo, _scripts(tmp_path), _backend("worker", cli, name, url))
        result = invoke("run", str(repo), env={key_env: KEY})
    _assert_landed(repo, result)
    sent = json.dumps(server.requests)
    assert KEY not in sent and "SECRET-of-the-person" not in sent
    token_env = "ANTHROPIC_API_KEY" if cli == "claude" else "SHIPYARD_GATEWAY_TOKEN"
    assert f"{token_env}=sk-shipyard-" in sent  # the probe ran and found the run's gateway token only
    auth = [
        h.get("x-api-key") or h.get("authorization", "").removeprefix("Bearer ")
        for h in server.request_headers
    ]
    assert set(auth) == {KEY}  # the gateway put the key on every upstream request
    transcript = json.dumps([e.data for e in _assert_landed(repo, result)])
    assert f"{token_env}=[REDACTED]" in transcript and "sk-shipyard-" not in transcript  # token masked


@pytest.mark.parametrize("cli", ["claude", "codex"])
def test_a_budget_stop_refuses_a_clis_next_call_and_the_run_ends(
    repo: Path, tmp_path: Path, cli: str
) -> None:
    model, name = (ClaudeModel(), "claude-sonnet-4-5") if cli == "claude" else (codex_model, "fake-codex")
    with FakeLLMServer(model) as server:
        url = server.url if cli == "claude" else server.openai_base_url
        budget = "[budget]\nusd = 0.00001\n"  # spent by the first call (the scripted planner is free)
        _config(repo, _scripts(tmp_path), _backend("worker", cli, name, url) + budget + PRICES)
        result = invoke("run", str(repo), env={"ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k"})
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "state: stopped (budget reached" in result.stdout
    assert len(server.requests) == 1, result.stdout  # the second call never reached the provider
    board = SqliteBoard(repo / ".shipyard" / "board.sqlite")
    try:
        calls = [e.data for e in board.events() if e.kind == "ModelCalled" and e.agent == "worker-1"]
    finally:
        board.close()
    metered = [c for c in calls if c["input_tokens"]]
    assert [(c["input_tokens"], c["output_tokens"]) for c in metered] == [(INPUT_TOKENS, OUTPUT_TOKENS)]
    assert any(c["text"].startswith("[gateway] call refused: budget reached") for c in calls)
    assert "hello.py" not in git(repo, "ls-tree", "--name-only", "main")
