"""`shipyard run` with an `openai-responses:` worker: tool calls and reasoning items over real HTTP."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

from test_provider_run import HELLO, _scripts

from cli_helpers import git, invoke
from fake_llm import FakeLLMServer, FakeReply


def _worker(api: str, body: dict[str, Any]) -> FakeReply:
    assert api == "responses"
    done = sum(1 for i in body["input"] if i.get("type") == "function_call_output")
    if done == 0:
        return FakeReply(
            tool_calls=[("write_file", {"path": "hello.py", "content": HELLO})], reasoning="write it"
        )
    return FakeReply(tool_calls=[("finish", {"summary": "wrote hello.py"})], reasoning="done", cache_read=5)


def test_run_with_a_responses_worker(repo: Path, tmp_path: Path) -> None:
    script = _scripts(tmp_path)
    check = f'{shlex.quote(sys.executable)} -c \'import hello; assert hello.greet("x") == "hello x"\''
    with FakeLLMServer(_worker) as server:
        (repo / "shipyard.toml").write_text(
            f'goal = "write hello.py"\ncheck = {json.dumps(check)}\nworkers = 1\n'
            f'[models]\nplanner = "scripted:{script}"\njudge = "scripted:{script}"\n'
            'worker = "openai-responses:gpt-5-codex"\n'
            f'[providers.openai]\nbase_url = "{server.openai_base_url}"\n'
            '[generation.worker]\nreasoning_effort = "medium"\n'
        )
        result = invoke("run", str(repo), env={"OPENAI_API_KEY": "test-key"})
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "state: done" in result.stdout and not server.errors
    first, second = server.requests
    assert first["reasoning"] == {"effort": "medium"} and first["store"] is False
    carried = [i for i in second["input"] if i.get("type") == "reasoning"]
    assert carried == [
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "write it"}],
            "encrypted_content": "enc-1",
        }
    ]
    assert "Write hello.py" in git(repo, "log", "--format=%s", "main")
    status = json.loads(invoke("status", str(repo), "--json").stdout)
    assert status["tasks"]["done"] == 1
    assert status["cache"]["by_role"]["worker"]["cache_read_tokens"] == 5
