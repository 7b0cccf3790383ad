"""Supervision of a CLI process: lines as they come, limits on time and silence, nothing left behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from backend_fakes import dies, fake_cli

from shipyard.backends.process import Cause, Command, Watch, supervise

RELAXED = Watch(wall_time_s=30, idle_s=30)


def _run(script: Path, watch: Watch = RELAXED, stdin: Path | None = None) -> tuple[object, list[bytes]]:
    lines: list[bytes] = []

    def on_line(line: bytes) -> bool:
        lines.append(line)
        return b"enough" in line

    command = Command([str(script)], script.parent, {"PATH": os.environ["PATH"]}, stdin)
    return asyncio.run(supervise(command, watch, on_line)), lines


def test_lines_arrive_in_order_and_the_exit_code_is_kept(tmp_path: Path) -> None:
    script = fake_cli(
        tmp_path / "cli", 'print("one"); print(""); print("two"); sys.stderr.write("bye"); sys.exit(3)'
    )
    ended, lines = _run(script)
    assert lines == [b"one\n", b"two\n"]  # blank lines are not events
    assert ended.cause is Cause.EXITED and ended.exit_code == 3 and ended.stderr_tail == "bye"


def test_the_prompt_comes_from_a_file_and_input_meets_end_of_file(tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.md"
    prompt.write_text("do the thing")
    body = """
print(json.dumps(sys.stdin.read()), flush=True)
try:
    input("continue? ")
except EOFError:
    print("eof", flush=True)
try:
    open("/dev/tty")
except OSError:
    print("no terminal", flush=True)
"""
    ended, lines = _run(fake_cli(tmp_path / "cli", body), stdin=prompt)
    assert lines == [b'"do the thing"\n', b"continue? eof\n", b"no terminal\n"]  # input() shows its prompt
    assert ended.cause is Cause.EXITED


def test_a_silent_cli_is_stopped_with_its_whole_tree(tmp_path: Path) -> None:
    body = """
child = subprocess.Popen(["sleep", "600"], start_new_session=True)  # outside the process group
print(child.pid, flush=True)
time.sleep(600)
"""
    ended, lines = _run(fake_cli(tmp_path / "cli", body), Watch(wall_time_s=30, idle_s=0.5))
    assert ended.cause is Cause.IDLE and 0.5 <= ended.duration_s < 10
    assert dies(int(lines[0]))


def test_a_chatty_cli_is_stopped_at_its_wall_time(tmp_path: Path) -> None:
    body = "while True:\n    print('working', flush=True)\n    time.sleep(0.05)\n"
    ended, lines = _run(fake_cli(tmp_path / "cli", body), Watch(wall_time_s=0.5, idle_s=30))
    assert ended.cause is Cause.WALL_TIME and len(lines) > 2


def test_the_line_handler_can_stop_the_cli(tmp_path: Path) -> None:
    body = "print('a', flush=True); print('enough', flush=True); time.sleep(600)"
    ended, lines = _run(fake_cli(tmp_path / "cli", body))
    assert ended.cause is Cause.LIMIT and lines == [b"a\n", b"enough\n"]


def test_leftovers_of_a_cli_that_exits_are_killed(tmp_path: Path) -> None:
    body = """
child = subprocess.Popen(["sleep", "600"], stdout=subprocess.DEVNULL)
print(child.pid, flush=True)
"""
    ended, lines = _run(fake_cli(tmp_path / "cli", body))
    assert ended.cause is Cause.EXITED and ended.exit_code == 0
    assert dies(int(lines[0]))


def test_a_cli_that_exits_while_a_leftover_holds_its_output_is_not_waited_for(tmp_path: Path) -> None:
    body = """
child = subprocess.Popen(["sleep", "600"])  # inherits stdout: the pipe stays open
print(child.pid, flush=True)
"""
    ended, lines = _run(fake_cli(tmp_path / "cli", body), Watch(wall_time_s=30, idle_s=20))
    assert ended.cause is Cause.EXITED and ended.duration_s < 10
    assert dies(int(lines[0]))


def test_a_cancelled_run_kills_the_cli(tmp_path: Path) -> None:
    body = 'child = subprocess.Popen(["sleep", "600"])\nprint(child.pid, flush=True)\ntime.sleep(600)\n'
    script = fake_cli(tmp_path / "cli", body)

    async def cancel_after_first_line() -> int:
        pids: list[int] = []
        started = asyncio.Event()

        def on_line(line: bytes) -> bool:
            pids.append(int(line))
            started.set()
            return False

        command = Command([str(script)], tmp_path, {"PATH": os.environ["PATH"]})
        run = asyncio.ensure_future(supervise(command, RELAXED, on_line))
        await started.wait()
        run.cancel()  # as the fleet does to a stalled agent, or on stop
        with contextlib.suppress(asyncio.CancelledError):
            await run
        return pids[0]

    assert dies(asyncio.run(cancel_after_first_line()))
