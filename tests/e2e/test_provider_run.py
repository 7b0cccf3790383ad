"""`shipyard run` with `openai:` and `anthropic:` worker models, over real HTTP to a fake server."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import git, invoke, write_script
from fake_llm import FakeLLMServer, FakeReply, count_tool_results

HELLO = 'def greet(name):\n    return f"hello {name}"\n'


def _worker(api: str, body: dict[str, Any]) -> FakeReply:
    step = count_tool_results(api, body)
    if step == 0:
        return FakeReply(tool_calls=[("write_file", {"path": "hello.py", "content": HELLO})])
    return FakeReply(tool_calls=[("finish", {"summary": "wrote hello.py"})])


def _scripts(tmp_path: Path) -> Path:
    task = {
        "title": "Write hello.py",
        "description": "greet(name) returns 'hello NAME'",
        "acceptance": "import hello works",
        "scope": ["hello.py"],
    }
    return write_script(
        tmp_path / "script.json",
        {
            "planner": [
                {"tool_calls": [{"name": "create_task", "arguments": task}]},
                {"tool_calls": [{"name": "finish", "arguments": {"summary": "one task"}}]},
                {"tool_calls": [{"name": "finish", "arguments": {"summary": "the task is merged"}}]},
            ],
            "judge": [
                {
                    "tool_calls": [
                        {"name": "verdict", "arguments": {"decision": "stop", "notes": "hello.py works"}}
                    ]
                }
            ],
        },
    )


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_run_with_a_provider_worker_over_http(repo: Path, tmp_path: Path, provider: str) -> None:
    script = _scripts(tmp_path)
    check = f'{shlex.quote(sys.executable)} -c \'import hello; assert hello.greet("x") == "hello x"\''
    with FakeLLMServer(_worker) as server:
        base = server.openai_base_url if provider == "openai" else server.anthropic_base_url
        (repo / "shipyard.toml").write_text(
            f'goal = "write hello.py"\ncheck = {json.dumps(check)}\nworkers = 2\n'
            f'[models]\nplanner = "scripted:{script}"\njudge = "scripted:{script}"\n'
            f'worker = "{provider}:fake-model"\n'
            f'[providers.{provider}]\nbase_url = "{base}"\n'
        )
        result = invoke("run", str(repo), env={f"{provider.upper()}_API_KEY": "test-key"})
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "state: done" in result.stdout
    assert len(server.requests) == 2
    assert "write_file" in json.dumps(server.requests[0])
    log = git(repo, "log", "--format=%an %s", "main")
    assert "worker-1 Write hello.py" in log or "worker-2 Write hello.py" in log
    status = json.loads(invoke("status", str(repo), "--json").stdout)
    assert status["tasks"]["done"] == 1 and status["merged_commits"] == 1
    assert status["tokens"] > 0
