"""Every agent's commands see one environment (issue 20): a Claude Code worker and a Codex worker run
`python3 -m pytest -q` in a project whose pytest lives only in the virtualenv Shipyard runs from, on a
machine whose /etc/profile resets `PATH` (as Debian's does) for login shells, and the check passes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from backend_fakes import last_result
from test_real_clis import HANDOFF, TASK, _assert_landed, _backend, _scripts, _tool_names

from cli_helpers import git, invoke
from fake_llm import FakeLLMServer, FakeReply, count_tool_results

VENV_BIN = Path(sys.executable).parent
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HELLO = 'def greet(name):\n    return f"hello {name}"\n'
TEST = 'import hello\n\n\ndef test_greet():\n    assert hello.greet("x") == "hello x"\n'
WORK = f"cat > hello.py <<'EOF'\n{HELLO}EOF\npython3 -m pytest -q -p no:cacheprovider; echo PATH=$PATH"


def _profile_resets_path() -> bool:
    """Whether a login shell here drops a virtualenv from `PATH` (Debian's /etc/profile does)."""
    env = {"PATH": f"{VENV_BIN}:{SYSTEM_PATH}", "HOME": "/nonexistent"}
    out = subprocess.run(["bash", "-lc", "echo $PATH"], env=env, capture_output=True, text=True).stdout
    return str(VENV_BIN) not in out


def _system_python_lacks_pytest() -> bool:
    env = {"PATH": SYSTEM_PATH}
    return subprocess.run(["python3", "-c", "import pytest"], env=env, capture_output=True).returncode != 0


class Worker:
    """The worker's model: write hello.py and run the tests in one command, then hand off; it keeps
    what the command printed."""

    def __init__(self, api: str, work: str = WORK) -> None:
        self.api = api
        self.work = work
        self.outputs: list[str] = []

    def __call__(self, api: str, body: dict[str, Any]) -> FakeReply:
        if api == "anthropic" and "Write" not in _tool_names(body):
            raise AssertionError("only the worker runs on a CLI here")
        if count_tool_results(api, body) == 0:
            name, args = (
                ("Bash", {"command": self.work})
                if api == "anthropic"
                else ("exec_command", {"cmd": self.work})
            )
            return FakeReply(tool_calls=[(name, args)])
        self.outputs.append(last_result(api, body))
        if api == "anthropic":
            return FakeReply(tool_calls=[("StructuredOutput", HANDOFF)])
        return FakeReply(text=json.dumps(HANDOFF))


@pytest.mark.skipif(not _profile_resets_path(), reason="this machine's /etc/profile keeps PATH")
@pytest.mark.skipif(not _system_python_lacks_pytest(), reason="the system Python has pytest")
@pytest.mark.parametrize("cli", ["claude", "codex"])
def test_a_cli_worker_runs_the_check_with_the_virtualenv_shipyard_runs_from(
    repo: Path, tmp_path: Path, cli: str
) -> None:
    env = {"PATH": SYSTEM_PATH}  # the virtualenv is not on PATH
    worker, result = _run(repo, tmp_path, cli, Worker("anthropic" if cli == "claude" else "responses"), env)
    (output,) = worker.outputs
    assert "1 passed" in output and "No module named pytest" not in output, output
    assert output.rstrip().endswith(f"bin:{VENV_BIN}:{SYSTEM_PATH}")  # after the CLI's helpers: the venv
    _assert_landed(repo, result)
    assert TASK["title"] in git(repo, "log", "--format=%s", "main")


def _run(repo: Path, tmp_path: Path, cli: str, worker: Worker, env: dict[str, str]) -> tuple[Worker, Any]:
    """`shipyard run` on a project with one test, the worker on `cli`, the check `python3 -m pytest`."""
    (repo / "test_hello.py").write_text(TEST)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a test")
    with FakeLLMServer(worker) as server:
        url = server.url if cli == "claude" else server.openai_base_url
        name = "claude-sonnet-4-5" if cli == "claude" else "fake-codex"
        script = _scripts(tmp_path)
        (repo / "shipyard.toml").write_text(
            'goal = "write hello.py"\ncheck = "python3 -m pytest -q -p no:cacheprovider"\nworkers = 1\n'
            f'[models]\nplanner = "scripted:{script}"\njudge = "scripted:{script}"\n'
            + _backend("worker", cli, name, url)
        )
        result = invoke("run", str(repo), env={**env, "ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k"})
    return worker, result


@pytest.mark.parametrize("cli", ["claude", "codex"])
def test_the_activated_virtualenv_comes_first_and_is_shown_in_the_sandbox(
    repo: Path, tmp_path: Path, cli: str
) -> None:
    venv = tmp_path / "project-venv"  # under /tmp, which the sandbox otherwise replaces
    (venv / "bin").mkdir(parents=True)
    tool = venv / "bin" / "project-tool"
    tool.write_text("#!/bin/sh\necho project tool ran\n")
    tool.chmod(0o755)
    work = f"cat > hello.py <<'EOF'\n{HELLO}EOF\nproject-tool"
    env = {"PATH": SYSTEM_PATH, "VIRTUAL_ENV": str(venv)}
    worker, result = _run(
        repo, tmp_path, cli, Worker("anthropic" if cli == "claude" else "responses", work), env
    )
    assert "project tool ran" in worker.outputs[0], worker.outputs[0]
    _assert_landed(repo, result)
