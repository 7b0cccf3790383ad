"""Path safety for the file tools: every path resolves inside the worktree and outside `.git`."""

from __future__ import annotations

from pathlib import Path

from shipyard.errors import ToolError


def resolve_path(root: Path, path: str) -> Path:
    """The absolute path of `path` (relative to `root`), or `ToolError` if it leaves the worktree."""
    base = root.resolve()
    raw = Path(path.strip() or ".")
    try:
        resolved = (raw if raw.is_absolute() else base / raw).resolve()
    except (OSError, RuntimeError):  # symlink loops, bad names
        raise ToolError(f"path `{path}` cannot be resolved") from None
    if not resolved.is_relative_to(base) or ".git" in resolved.relative_to(base).parts:
        raise ToolError(f"path `{path}` is outside the worktree")
    return resolved


def display_path(root: Path, path: Path) -> str:
    """`path` relative to the worktree, for messages to the agent."""
    try:
        return path.relative_to(root.resolve()).as_posix() or "."
    except ValueError:
        return path.as_posix()
