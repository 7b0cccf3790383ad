"""Where worktrees land on disk: each in a block group of its own, away from the repository's churn.

Every task makes and deletes files in `.git` (lock files, a worktree's admin folder). On ext4 without a
journal, a new file skips every inode of its block group freed in the last minutes, so a worktree
whose files share the block groups of `.git` pays for that churn on every file git writes into it.
ext2/3/4 let a folder be marked the top of its own hierarchies (`chattr +T`): its subfolders are then
spread over the disk by the Orlov allocator, as top-level folders are. Shipyard marks the folders that
hold worktrees; elsewhere (another file system, no permission) nothing happens.
"""

from __future__ import annotations

import array
import fcntl
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_GET_FLAGS = 0x80086601  # FS_IOC_GETFLAGS
_SET_FLAGS = 0x40086602  # FS_IOC_SETFLAGS
TOP_OF_HIERARCHY = 0x00020000  # FS_TOPDIR_FL, `chattr +T`


def spread_subfolders(folder: Path) -> bool:
    """Create `folder` if needed and mark it so its subfolders are spread over the disk; True if marked.

    Best effort (a file system without the attribute is fine); a folder already marked costs one read.
    """
    folder.mkdir(parents=True, exist_ok=True)
    return _set_flag(folder, TOP_OF_HIERARCHY)


def folder_flags(folder: Path) -> int | None:
    """The file system's flags of a folder, or None where it keeps none."""
    return _with_flags(folder, lambda _fd, flags: flags)


def _set_flag(folder: Path, flag: int) -> bool:
    def add(fd: int, flags: int) -> bool:
        if not flags & flag:
            fcntl.ioctl(fd, _SET_FLAGS, array.array("i", [flags | flag]), True)
        return True

    return _with_flags(folder, add) or False


def _with_flags(folder: Path, use: Callable[[int, int], T]) -> T | None:
    """`use(fd, flags)` on the open folder; None when the platform or file system keeps no flags."""
    if sys.platform != "linux":
        return None
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, _GET_FLAGS, flags, True)
        return use(fd, flags[0])
    except OSError:
        return None
    finally:
        os.close(fd)
