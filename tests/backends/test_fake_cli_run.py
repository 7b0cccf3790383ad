"""`shipyard run` with fake CLI scripts as workers: a CLI that writes outside its worktree fails its
attempt, a hung CLI is stopped and its task returns, a missing CLI stops the run before it starts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from backend_fakes import HELLO, claude_like, dies, toml_str

from cli_helpers import git, invoke, write_script
from fake_llm import FakeLLMServer, FakeReply
from shipyard.board.sqlite import SqliteBoard
from shipyard.domain import Event, Task

TASK = {"title": "Write hello.py", "description": "d", "acceptance": "a", "scope": ["hello.py"]}


UNCONFINED = "[sandbox]\nenabled = false\n"  # the CLI on the host: only the isolation check guards


def _setup(
    repo: Path, tmp_path: Path, cli: Path, extra: str = "", attempts: int = 1, confined: bool = True
) -> None:
    """A scripted planner and judge around one worker slot played by the fake `claude` at `cli`."""
    script = write_script(
        tmp_path / "script.json",
        {
            "planner": [
                {"tool_calls": [{"name": "create_task", "arguments": TASK}]},
                {"tool_calls": [{"name": "finish", "arguments": {"summary": "one task"}}]},
                {"tool_calls": [{"name": "finish", "arguments": {"summary": "the task ended"}}]},
            ],
            "judge": [{"tool_calls": [{"name": "verdict", "arguments": {"decision": "stop"}}]}],
        },
    )
    (repo / "shipyard.toml").write_text(
        f'goal = "write hello.py"\nworkers = 1\n[fleet]\nmax_attempts = {attempts}\n'
        f'[models]\nplanner = "scripted:{script}"\njudge = "scripted:{script}"\n'
        f'[[backends.worker]]\ncli = "claude"\nbinary = {toml_str(cli)}\n{extra}'
        + ("" if confined else UNCONFINED)
    )


def _board(repo: Path) -> tuple[list[Task], list[Event]]:
    board = SqliteBoard(repo / ".shipyard" / "board.sqlite")
    try:
        return board.tasks(), board.events()
    finally:
        board.close()


def test_a_working_fake_cli_lands_its_task(repo: Path, tmp_path: Path) -> None:
    _setup(repo, tmp_path, claude_like(tmp_path / "claude"))
    result = invoke("run", str(repo), env={"ANTHROPIC_API_KEY": "k"})
    assert result.exit_code == 0, result.stdout + result.stderr
    assert git(repo, "show", "main:hello.py") == HELLO
    tasks, events = _board(repo)
    assert tasks[0].status.value == "done" and tasks[0].handoff is not None
    assert tasks[0].handoff.summary == "wrote hello.py"
    calls = [e.data for e in events if e.kind == "ModelCalled" and e.agent == "worker-1"]
    assert calls[-1]["cost_usd"] == 0.01 and calls[-1]["input_tokens"] == 10  # the CLI's own figures


OUTSIDE = {  # where: (what the fake CLI does there, what the isolation check must say)
    "the person's checkout": (
        'Path.cwd().parents[2].joinpath("stray.txt").write_text("oops")',
        "target/stray.txt changed (the person's checkout)",
    ),
    "the shared branch": (
        'subprocess.run(["git", "-C", str(Path.cwd().parents[2]), "commit", "-q", "--allow-empty", '
        '"-m", "sneaked in"], check=True)',
        "by worker-1@cli.invalid landed on `main` without Shipyard",
    ),
    "another worktree": (
        'Path.cwd().parents[3].joinpath("other", "README.md").write_text("oops")',
        "other/README.md changed (another worktree)",
    ),
}


@pytest.mark.parametrize("where", list(OUTSIDE))
def test_an_unconfined_cli_that_writes_outside_its_worktree_fails_its_attempt(
    repo: Path, tmp_path: Path, where: str
) -> None:
    git(repo, "worktree", "add", "-q", str(repo.parent / "other"), "-b", "other")
    action, expected = OUTSIDE[where]
    _setup(repo, tmp_path, claude_like(tmp_path / "claude", before=action), confined=False)
    result = invoke("run", str(repo), env={"ANTHROPIC_API_KEY": "k"})
    assert result.exit_code == 0, result.stdout + result.stderr
    tasks, events = _board(repo)
    assert tasks[0].status.value == "failed"  # one attempt allowed, and it failed
    assert tasks[0].handoff is not None and "isolation check failed" in tasks[0].handoff.summary
    violations = [e for e in events if e.kind == "IsolationViolated"]
    assert len(violations) == 1 and violations[0].agent == "worker-1"
    assert len(violations[0].data["changes"]) == 1 and expected in violations[0].data["changes"][0]
    assert "hello.py" not in git(repo, "ls-tree", "--name-only", "main")  # its work did not land


@pytest.mark.parametrize("where", list(OUTSIDE))
def test_a_cli_in_the_sandbox_cannot_write_outside_its_worktree(
    repo: Path, tmp_path: Path, where: str
) -> None:
    git(repo, "worktree", "add", "-q", str(repo.parent / "other"), "-b", "other")
    before = git(repo, "rev-parse", "main"), (repo.parent / "other" / "README.md").read_text()
    _setup(repo, tmp_path, claude_like(tmp_path / "claude", before=OUTSIDE[where][0]))
    result = invoke("run", str(repo), env={"ANTHROPIC_API_KEY": "k"})
    assert result.exit_code == 0, result.stdout + result.stderr
    tasks, events = _board(repo)
    assert tasks[0].status.value == "failed" and tasks[0].handoff is not None
    assert "claude failed (exit code 1)" in tasks[0].handoff.summary  # its write was refused
    assert not [e for e in events if e.kind == "IsolationViolated"]  # prevented, so nothing to catch
    assert not (repo / "stray.txt").exists()
    assert (git(repo, "rev-parse", "main"), (repo.parent / "other" / "README.md").read_text()) == before


HANG_ONCE = """
marker = Path(__file__).with_suffix(".hung")
if not marker.exists():
    marker.write_text("")
    child = subprocess.Popen(["sleep", "600"])
    Path(__file__).with_suffix(".pid").write_text(str(child.pid))
    print(json.dumps({"type": "system", "subtype": "init"}), flush=True)
    time.sleep(600)  # hung: no output, as if waiting at a prompt
"""


def test_a_hung_cli_is_stopped_and_its_task_returns(repo: Path, tmp_path: Path) -> None:
    cli = claude_like(tmp_path / "claude", before=HANG_ONCE)  # it keeps notes next to itself: unconfined
    _setup(repo, tmp_path, cli, extra="idle_timeout_s = 2\n", attempts=2, confined=False)
    result = invoke("run", str(repo), env={"ANTHROPIC_API_KEY": "k"})
    assert result.exit_code == 0, result.stdout + result.stderr
    tasks, events = _board(repo)
    assert tasks[0].status.value == "done" and tasks[0].attempts == 2  # returned, then retaken
    stopped = [e.data for e in events if e.kind == "CliStopped"]
    assert [s["cause"] for s in stopped] == ["idle"]
    assert (
        "printed nothing for 2 s" in stopped[0]["reason"]
        and "process tree was killed" in stopped[0]["reason"]
    )
    assert dies(int(cli.with_suffix(".pid").read_text()))  # its child died with it


def test_a_cli_that_is_not_installed_stops_the_run_before_it_starts(repo: Path, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    path = f"{empty}:/usr/bin:/bin"
    if shutil.which("claude", path=path):
        pytest.skip("a `claude` is installed system-wide")
    (repo / "shipyard.toml").write_text(
        'goal = "g"\n[models]\ndefault = "scripted:demo"\n[[backends.worker]]\ncli = "claude"\nshare = 0.5\n'
    )
    result = invoke("run", str(repo), env={"PATH": path, "ANTHROPIC_API_KEY": "k"})
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "npm install -g @anthropic-ai/claude-code" in lines[0], lines
    assert not (repo / ".shipyard").exists()


def test_a_cli_without_its_key_is_refused(repo: Path, tmp_path: Path) -> None:
    cli = claude_like(tmp_path / "claude")
    (repo / "shipyard.toml").write_text(
        f'goal = "g"\n[models]\ndefault = "scripted:demo"\n[[backends.judge]]\ncli = "claude"\n'
        f'binary = {toml_str(cli)}\napi_key_env = "MY_CLAUDE_KEY"\n'
    )
    result = invoke("run", str(repo), env={"MY_CLAUDE_KEY": ""})
    assert result.exit_code == 2 and "set MY_CLAUDE_KEY" in result.stderr
    assert not (repo / ".shipyard").exists()


WAIT_FOR_THE_OTHER_MERGE = """
repo = Path.cwd().parents[2]
def tip():
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "main"], capture_output=True).stdout
start, deadline = tip(), time.monotonic() + 20
while tip() == start and time.monotonic() < deadline:
    time.sleep(0.05)  # a slow agent: it finishes only after the loop worker's merge has landed
"""


def test_merges_by_other_agents_meanwhile_are_not_violations(repo: Path, tmp_path: Path) -> None:
    script = write_script(
        tmp_path / "script.json",
        {
            "planner": [
                {"tool_calls": [{"name": "create_task", "arguments": TASK}]},
                {"tool_calls": [{"name": "create_task", "arguments": {**TASK, "title": "Write b.py"}}]},
                {"tool_calls": [{"name": "finish", "arguments": {"summary": "two tasks"}}]},
                {"tool_calls": [{"name": "finish", "arguments": {"summary": "both ended"}}]},
            ],
            "worker": [
                {"tool_calls": [{"name": "write_file", "arguments": {"path": "b.py", "content": "b = 1\n"}}]},
                {"tool_calls": [{"name": "finish", "arguments": {"summary": "wrote b.py"}}]},
            ],
            "judge": [{"tool_calls": [{"name": "verdict", "arguments": {"decision": "stop"}}]}],
        },
    )
    cli = claude_like(tmp_path / "claude", before=WAIT_FOR_THE_OTHER_MERGE)
    (repo / "shipyard.toml").write_text(
        f'goal = "g"\nworkers = 2\n[fleet]\nmax_attempts = 1\n[models]\ndefault = "scripted:{script}"\n'
        f'[[backends.worker]]\ncli = "claude"\nshare = 0.5\nbinary = {toml_str(cli)}\n{UNCONFINED}'
    )  # unconfined: it watches the shared branch in the checkout, which a sandbox hides
    result = invoke("run", str(repo), env={"ANTHROPIC_API_KEY": "k"})
    assert result.exit_code == 0, result.stdout + result.stderr
    tasks, events = _board(repo)
    assert [t.status.value for t in tasks] == ["done", "done"]
    assert not [e for e in events if e.kind == "IsolationViolated"]
    authors = git(repo, "log", "--format=%an %s", "main")
    assert "worker-1 Write hello.py" in authors and "worker-2 Write b.py" in authors
    assert (repo / "b.py").exists() and (repo / "hello.py").exists()  # the checkout kept in step


ASK_THEN_MAYBE_HANG = """
import urllib.request
ask = urllib.request.Request(
    os.environ["ANTHROPIC_BASE_URL"] + "/v1/messages", data=b'{"model": "m"}',
    headers={"x-api-key": os.environ["ANTHROPIC_API_KEY"], "content-type": "application/json"},
)
said = json.loads(urllib.request.urlopen(ask, timeout=30).read())["content"][0]["text"]
if said == "hang":
    subprocess.Popen(["sleep", "613.5151"])
    print(json.dumps({"type": "system", "subtype": "init"}), flush=True)
    time.sleep(600)  # hung: no output, as if waiting at a prompt
"""


def _marked() -> list[int]:
    """Host pids of the hung CLI's `sleep 613.5151` child."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == b"sleep\0613.5151\0":
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_hung_cli_in_the_sandbox_is_stopped_with_everything_it_started(repo: Path, tmp_path: Path) -> None:
    replies = iter(["hang", "go"])
    with FakeLLMServer(lambda api, body: FakeReply(text=next(replies))) as server:
        cli = claude_like(tmp_path / "claude", before=ASK_THEN_MAYBE_HANG)  # asks through the gateway
        extra = f"idle_timeout_s = 2\nbase_url = {toml_str(server.url)}\n"
        _setup(repo, tmp_path, cli, extra=extra, attempts=2)
        result = invoke("run", str(repo), env={"ANTHROPIC_API_KEY": "k"})
    assert result.exit_code == 0, result.stdout + result.stderr
    tasks, events = _board(repo)
    assert tasks[0].status.value == "done" and tasks[0].attempts == 2  # returned, then retaken
    assert [e.data["cause"] for e in events if e.kind == "CliStopped"] == ["idle"]
    assert len(server.requests) == 2 and all(dies(pid) for pid in _marked())  # its child died with it


RECORD_LIMITS = """
import resource
names = ("RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NPROC")
limits = {name: resource.getrlimit(getattr(resource, name))[0] for name in names}
Path("limits.json").write_text(json.dumps(limits))
"""


def test_a_cli_runs_under_the_sandbox_limits(repo: Path, tmp_path: Path) -> None:
    limits = "[sandbox]\nmemory_mb = 4096\nmax_file_mb = 64\nmax_processes = 300\n"
    _setup(repo, tmp_path, claude_like(tmp_path / "claude", before=RECORD_LIMITS), extra=limits)
    result = invoke("run", str(repo), env={"ANTHROPIC_API_KEY": "k"})
    assert result.exit_code == 0, result.stdout + result.stderr
    seen = json.loads(git(repo, "show", "main:limits.json"))
    assert seen == {"RLIMIT_AS": 4096 << 20, "RLIMIT_FSIZE": 64 << 20, "RLIMIT_NPROC": 300}
