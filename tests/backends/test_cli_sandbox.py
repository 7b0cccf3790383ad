"""The escape suite for CLI backends: the real Claude Code and Codex, started by `shipyard run` as a
person would (the key exported in Shipyard's environment), run a worker whose shell tries to reach the
fake model server directly, an outside address and your checkout, and reads every process's
environment; all of it fails or finds no key, and the worker's real change still lands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from backend_fakes import last_result
from test_real_clis import HANDOFF, WRITE_HELLO, _assert_landed, _backend, _config, _scripts, _tool_names

from fake_llm import FakeLLMServer, FakeReply, count_tool_results

KEY = "sk-ant-api03-EXPORTED-by-the-person-0123456789"
PROBE = """python3 - <<'PY'
import glob, socket
def reach(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return "open"
    except OSError as exc:
        return type(exc).__name__
print("MODEL-SERVER", reach("127.0.0.1", @PORT@))
print("OUTSIDE", reach("192.0.2.1", 80))
for name in glob.glob("/proc/[0-9]*/environ"):
    try:
        print(open(name, "rb").read().replace(b"\\0", b"\\n").decode(errors="replace"))
    except OSError:
        pass
try:
    open("@CHECKOUT@/stray.txt", "w").write("oops")
    print("WROTE")
except OSError as exc:
    print("WRITE", type(exc).__name__)
PY
"""


class Escaper:
    """A worker that runs the probe (and writes hello.py) in one command, then hands off."""

    def __init__(self, api: str, probe: str) -> None:
        self.api = api
        self.probe = probe
        self.outputs: list[str] = []

    def __call__(self, api: str, body: dict[str, Any]) -> FakeReply:
        if api == "anthropic" and "Write" not in _tool_names(body):
            raise AssertionError("only the worker runs on a CLI here")
        if count_tool_results(api, body) == 0:
            command = self.probe + WRITE_HELLO
            name, args = (
                ("Bash", {"command": command}) if api == "anthropic" else ("exec_command", {"cmd": command})
            )
            return FakeReply(tool_calls=[(name, args)])
        self.outputs.append(last_result(api, body))
        if api == "anthropic":
            return FakeReply(tool_calls=[("StructuredOutput", HANDOFF)])
        return FakeReply(text=json.dumps(HANDOFF))


class Result:
    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        self.exit_code, self.stdout, self.stderr = done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("cli", ["claude", "codex"])
def test_a_cli_worker_in_the_sandbox_reaches_only_the_gateway(repo: Path, tmp_path: Path, cli: str) -> None:
    api, key_env = ("anthropic", "ANTHROPIC_API_KEY") if cli == "claude" else ("responses", "OPENAI_API_KEY")
    with FakeLLMServer() as server:
        port = server.url.rsplit(":", 1)[1]
        server.responder = model = Escaper(
            api, PROBE.replace("@PORT@", port).replace("@CHECKOUT@", str(repo))
        )
        url = server.url if cli == "claude" else server.openai_base_url
        name = "claude-sonnet-4-5" if cli == "claude" else "fake-codex"
        _config(repo, _scripts(tmp_path), _backend("worker", cli, name, url))
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), key_env: KEY}  # exported, as people do
        shipyard = str(Path(sys.executable).parent / "shipyard")
        done = subprocess.run(
            [shipyard, "run", str(repo)], env=env, capture_output=True, text=True, timeout=300
        )
    output = model.outputs[0]
    assert "MODEL-SERVER ConnectionRefusedError" in output  # only the gateway, through the forwarder
    assert "OUTSIDE open" not in output and "OUTSIDE " in output
    assert "WRITE OSError" in output and not (repo / "stray.txt").exists()
    assert "SHIPYARD_GATEWAY_TOKEN=sk-shipyard-" in output or "ANTHROPIC_API_KEY=sk-shipyard-" in output
    assert KEY not in output and KEY not in json.dumps(server.requests)  # not even Shipyard's own environ
    _assert_landed(repo, Result(done))
