"""What Ray's driver prints when the cluster publishes a message (a node's death): one short line in the
run's terminal, not the dead raylet's last log lines."""

from __future__ import annotations

from typing import Any

import pytest

from shipyard.cluster.noise import first_line, quiet_cluster_messages, shortened

DEATH = (
    "\x1b[33mRaylet is terminated. Termination is unexpected. Possible reasons include: (1) SIGKILL by the "
    "user or system OOM killer, (2) Invalid memory access from Raylet causing SIGSEGV or SIGBUS, (3) Other "
    "termination signals. Last 20 lines of the Raylet logs:\x1b[0m\n"
    + "".join(f"    [state-dump] \tNodeManager.timer {i} - 1 total (1 active)\n" for i in range(20))
)


def test_a_raylet_message_becomes_its_first_line() -> None:
    printed: list[dict[str, Any]] = []
    short = shortened(lambda data, _prefix: printed.append(data))
    short({"lines": [DEATH], "pid": "raylet", "is_err": False}, False)
    short({"lines": ["an actor's own line"], "pid": 4242, "is_err": False}, False)
    (death, other) = printed
    (line,) = death["lines"]
    assert line.startswith("Raylet is terminated. Termination is unexpected.") and "\n" not in line
    assert "state-dump" not in line and "\x1b" not in line and len(line) <= 200
    assert other["lines"] == ["an actor's own line"], "what is not a raylet's passes unchanged"


def test_first_line_keeps_a_short_message_whole() -> None:
    assert first_line("\n  node 127.0.0.4 died.  \nmore") == "node 127.0.0.4 died."


def test_the_driver_prints_a_node_death_as_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import ray._private.worker as driver

    quiet_cluster_messages()
    quiet_cluster_messages()  # once is enough: a second call wraps nothing again
    driver.print_to_stdstream({"lines": [DEATH], "pid": "raylet", "is_err": False}, ignore_prefix=False)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "Raylet is terminated" in out and "state-dump" not in out, out
