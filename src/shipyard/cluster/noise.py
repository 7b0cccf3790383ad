"""What Ray prints in the run's terminal. Ray's driver prints each message the cluster publishes for it
(a node's death, say) with the dead raylet's last log lines: some 25 lines of `[state-dump]` in the
middle of the run's events, for each such message. Shipyard says what it means for the run itself
(`worker-2 lost #7: its actor or node died`), so each message is cut to its first line, 200 characters.
Ray offers no setting for this: the driver's printer (`ray._private.worker.print_to_stdstream`, a name
its listener looks up at each message) is wrapped; should a Ray version lack it, nothing changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_LINE_CHARS = 200
_COLOR = re.compile(r"\x1b\[[0-9;]*m")
Printer = Callable[[dict[str, Any], bool], None]


def quiet_cluster_messages() -> None:
    """Have the driver print each message from Ray's raylets as one short line."""
    import ray._private.worker as driver

    printer = getattr(driver, "print_to_stdstream", None)
    if printer is None or getattr(printer, "shipyard_short", False):
        return
    driver.print_to_stdstream = shortened(printer)  # type: ignore[assignment]


def shortened(printer: Printer) -> Printer:
    """`printer`, with a raylet's message cut to its first line (other output passes unchanged)."""

    def short(data: dict[str, Any], ignore_prefix: bool) -> None:
        if data.get("pid") == "raylet" and data.get("lines"):
            data = {**data, "lines": [first_line(str(data["lines"][0]))]}
        printer(data, ignore_prefix)

    short.shipyard_short = True  # type: ignore[attr-defined]
    return short


def first_line(message: str) -> str:
    """A message's first non-empty line, without colours, at most `_LINE_CHARS` long."""
    lines = [" ".join(line.split()) for line in _COLOR.sub("", message).splitlines()]
    text = next((line for line in lines if line), "")
    return text if len(text) <= _LINE_CHARS else text[: _LINE_CHARS - 1] + "…"
