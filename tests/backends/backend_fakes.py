"""Helpers for backend tests: the real CLIs (when installed), fake CLI scripts, TOML strings."""

from __future__ import annotations

import json
import os
import select
import socketserver
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from shipyard.errors import ToolError

# Where `.ci/run` installs the CLIs from the npm registry.
NPM_BIN = Path(__file__).resolve().parents[2] / ".venv" / "npm" / "node_modules" / ".bin"
PACKAGES = {"claude": "@anthropic-ai/claude-code", "codex": "@openai/codex"}


def cli_binary(name: str) -> Path:
    """The real CLI, or a skip (a failure under CI, which installs them) when it is not installed."""
    for folder in (NPM_BIN, *(Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p)):
        if (folder / name).is_file():
            return folder / name
    why = (
        f"the `{name}` CLI is not installed (`bash .ci/run` installs {PACKAGES[name]} into {NPM_BIN.parent})"
    )
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


def fake_cli(path: Path, body: str) -> Path:
    """An executable Python script standing in for a CLI; `body` runs after a few common imports."""
    header = f"#!{sys.executable}\nimport json, os, subprocess, sys, time\nfrom pathlib import Path\n"
    path.write_text(header + body)
    path.chmod(0o755)
    return path


def toml_str(value: object) -> str:
    """A TOML basic string."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


HELLO = 'def greet(name):\n    return f"hello {name}"\n'
_CLAUDE_EVENTS = """
sys.stdin.read()
def emit(event):
    print(json.dumps(event), flush=True)
emit({"type": "system", "subtype": "init"})
@BEFORE@
Path("hello.py").write_text(@HELLO@)
call = {"type": "tool_use", "id": "t1", "name": "Write", "input": {"file_path": "hello.py"}}
emit({"type": "assistant", "message": {"id": "m1", "content": [call], "usage": {"input_tokens": 5}}})
result = {"type": "tool_result", "tool_use_id": "t1", "content": "ok"}
emit({"type": "user", "message": {"content": [result]}})
answer = {"summary": "wrote hello.py", "concerns": "", "deviations": ""}
usage = {"input_tokens": 10, "output_tokens": 6}
emit({"type": "result", "subtype": "success", "is_error": False, "num_turns": 2, "total_cost_usd": 0.01,
      "usage": usage, "structured_output": answer})
"""


def claude_like(path: Path, before: str = "") -> Path:
    """A fake `claude` that speaks its stream-json: runs the Python `before`, writes hello.py, answers."""
    return fake_cli(path, _CLAUDE_EVENTS.replace("@BEFORE@", before).replace("@HELLO@", repr(HELLO)))


def dies(pid: int, within_s: float = 10.0) -> bool:
    """Whether the process `pid` has ended or ends within `within_s` (waits on its pidfd, no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], within_s)
        return bool(ready)
    finally:
        os.close(fd)


class RecordingSink:
    """A `TaskSink` that keeps what it was given and refuses after `limit` tasks."""

    def __init__(self, limit: int = 10) -> None:
        self.tasks: list[tuple[str, list[str]]] = []
        self.delegated: list[str] = []
        self.limit = limit

    def create_task(
        self, title: str, description: str, acceptance: str, scope: list[str], priority: int
    ) -> int:
        if len(self.tasks) >= self.limit:
            raise ToolError("task limit reached; call finish")
        self.tasks.append((title, scope))
        return len(self.tasks)

    def delegate(self, title: str, description: str, scope: list[str], priority: int) -> int:
        self.delegated.append(title)
        return 100 + len(self.delegated)


class RecordingProxy:
    """An HTTP(S) proxy on 127.0.0.1 that forwards nothing and records each request line: given to a
    CLI as HTTPS_PROXY, it shows any traffic to anywhere but the fake model server (NO_PROXY)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                proxy.requests.append(self.rfile.readline(4096).decode("latin-1").strip())
                self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def env(self) -> dict[str, str]:
        url = f"http://127.0.0.1:{self._server.server_address[1]}"
        no_proxy = "127.0.0.1,localhost"
        return {"HTTPS_PROXY": url, "HTTP_PROXY": url, "NO_PROXY": no_proxy, "no_proxy": no_proxy}

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def last_result(api: str, body: dict[str, Any]) -> str:
    """The text of the last tool result in a request (Claude Code's Bash, Codex's exec_command)."""
    if api == "anthropic":
        blocks = [b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]]
        found: Any = [b["content"] for b in blocks if b.get("type") == "tool_result"][-1]
    else:
        found = [i["output"] for i in body["input"] if i.get("type") == "function_call_output"][-1]
    return found if isinstance(found, str) else json.dumps(found)
