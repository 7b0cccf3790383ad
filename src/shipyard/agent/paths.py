"""Path safety for the file tools: every path resolves inside the worktree, outside `.git` and `.shipyard`,
and the files written or read there have no second hard link (one could point anywhere)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from shipyard.errors import ToolError

PRIVATE_PARTS = frozenset({".git", ".shipyard"})
MAX_PATH_CHARS = 4096


def resolve_path(root: Path, path: str) -> Path:
    """The absolute path of `path` (relative to `root`), or `ToolError` if it leaves the worktree."""
    base = root.resolve()
    text = path.strip() or "."
    if "\0" in text or len(text) > MAX_PATH_CHARS:
        raise ToolError(f"path `{text[:80]}` is not a valid path (NUL byte or over {MAX_PATH_CHARS} chars)")
    raw = Path(text)
    try:
        resolved = (raw if raw.is_absolute() else base / raw).resolve()
    except (OSError, RuntimeError, ValueError):  # symlink loops, bad names
        raise ToolError(f"path `{path}` cannot be resolved") from None
    if not resolved.is_relative_to(base) or PRIVATE_PARTS & set(resolved.relative_to(base).parts):
        raise ToolError(f"path `{path}` is outside the worktree")
    return resolved


def display_path(root: Path, path: Path) -> str:
    """`path` relative to the worktree, for messages to the agent."""
    try:
        return path.relative_to(root.resolve()).as_posix() or "."
    except ValueError:
        return path.as_posix()


def single_link(path: Path, shown: str) -> None:
    """`ToolError` when the file at `path` has other hard links: one may be a file outside the worktree."""
    links = path.lstat().st_nlink
    if path.is_file() and links > 1:
        raise ToolError(f"`{shown}` has {links} hard links; the file tools only touch files with one")


def replace_file(path: Path, data: bytes) -> None:
    """Write `data` to a new file beside `path` and rename it over `path`: a hard link or a symlink there is
    replaced, never written through; an existing file keeps its permissions."""
    mode = path.stat().st_mode & 0o7777 if path.is_file() else None
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def read_inside(root: Path, name: str, max_bytes: int) -> str | None:
    """At most `max_bytes` of a regular file inside `root` (for the harness reading agents' files, such
    as NOTES.md); None for a path that leaves `root`, a symlink out, a FIFO, a device or a hard link."""
    try:
        path = resolve_path(root, name)
        if not path.is_file():
            return None
        single_link(path, name)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (ToolError, OSError):
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read(max_bytes).decode("utf-8", errors="replace")
