"""One orchestrator per repository: an exclusive lock on `.shipyard/orchestrator.lock`.

The kernel drops the lock when the process dies, even on SIGKILL, so a crash never leaves it behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from shipyard.errors import UserError

LOCK_FILE = "orchestrator.lock"


class RunLock:
    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / LOCK_FILE
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or say which process holds it."""
        handle = self._path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            handle.close()
            raise UserError(
                f"a Shipyard run is already in progress in {self._path.parent.parent} (pid {pid}); "
                "wait for it, or stop it with `shipyard stop`"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
