"""File tools bound to one worktree: read, write, edit, list and grep, all behind path checks."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

from shipyard.agent.paths import PRIVATE_PARTS, display_path, replace_file, resolve_path, single_link
from shipyard.agent.tool import ToolResult, error, schema
from shipyard.errors import ToolError
from shipyard.models.base import ToolSpec

MAX_FILE_BYTES = 10_000_000
MAX_READ_LINES = 2000
MAX_OUTPUT_CHARS = 60_000
MAX_LINE_CHARS = 2000
MAX_GREP_MATCHES = 200
MAX_GREP_FILE_BYTES = 2_000_000
MAX_DIR_ENTRIES = 1000


class _FileTool:
    """Shared plumbing: path checks, errors as results, blocking work off the event loop."""

    spec: ToolSpec

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    async def run(self, args: dict[str, Any]) -> ToolResult:
        try:
            return ToolResult(await asyncio.to_thread(self.do, args))
        except ToolError as exc:
            return error(str(exc))
        except OSError as exc:
            return error(f"{self.spec.name}: {exc.strerror or exc}")

    def do(self, args: dict[str, Any]) -> str:
        raise NotImplementedError

    def path(self, raw: str) -> Path:
        return resolve_path(self.root, raw)

    def show(self, path: Path) -> str:
        return display_path(self.root, path)


def _read_text(path: Path, shown: str) -> tuple[str, bool]:
    """The text of a file and whether it was valid UTF-8; `ToolError` for missing, huge or binary files."""
    if not path.is_file():
        raise ToolError(f"`{shown}` is not a file" if path.exists() else f"`{shown}` does not exist")
    single_link(path, shown)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ToolError(f"`{shown}` is {size} bytes, too large to read; use grep, or shell with head/sed")
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        raise ToolError(f"`{shown}` looks binary ({size} bytes); only text files can be read")
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), False


class ReadFile(_FileTool):
    spec = ToolSpec(
        "read_file",
        "Read a text file with line numbers, `limit` lines from line `offset` (1-based).",
        schema(
            {
                "path": {"type": "string", "description": "path relative to the worktree root"},
                "offset": {"type": "integer", "description": "first line, 1-based (default 1)"},
                "limit": {"type": "integer", "description": "number of lines (default 400)"},
            },
            ("path",),
        ),
    )

    def do(self, args: dict[str, Any]) -> str:
        path = self.path(args["path"])
        shown = self.show(path)
        text, valid = _read_text(path, shown)
        lines = text.splitlines()
        start = max(1, args.get("offset") or 1)
        limit = min(max(1, args.get("limit") or 400), MAX_READ_LINES)
        body: list[str] = []
        size = 0
        end = start - 1
        for number in range(start, min(len(lines), start + limit - 1) + 1):
            line = lines[number - 1]
            if len(line) > MAX_LINE_CHARS:
                line = line[:MAX_LINE_CHARS] + " [line cut]"
            if size + len(line) > MAX_OUTPUT_CHARS and body:
                break
            body.append(f"{number:>6}\t{line}")
            size += len(line) + 8
            end = number
        return _framed(shown, body, start, end, len(lines), valid)


def _framed(shown: str, body: list[str], start: int, end: int, total: int, valid: bool) -> str:
    if not body:
        return f"`{shown}` has {total} lines; nothing at offset {start}"
    head = f"`{shown}` lines {start}-{end} of {total}"
    if not valid:
        head += " (not valid UTF-8: undecodable bytes shown as \ufffd)"
    tail = [f"[more: call read_file with offset={end + 1}]"] if end < total else []
    return "\n".join([head, *body, *tail])


def _sized(data: bytes, shown: str) -> bytes:
    if len(data) > MAX_FILE_BYTES:
        raise ToolError(f"`{shown}` would be {len(data)} bytes, over the {MAX_FILE_BYTES}-byte limit")
    return data


class WriteFile(_FileTool):
    spec = ToolSpec(
        "write_file",
        "Create or overwrite a file with `content` (parent folders are created).",
        schema({"path": {"type": "string"}, "content": {"type": "string"}}, ("path", "content")),
    )

    def do(self, args: dict[str, Any]) -> str:
        path = self.path(args["path"])
        if path.is_dir():
            raise ToolError(f"`{self.show(path)}` is a folder")
        data = _sized(args["content"].encode("utf-8"), self.show(path))
        if path.exists():
            single_link(path, self.show(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, data)
        return f"wrote `{self.show(path)}` ({len(args['content'].splitlines())} lines, {len(data)} bytes)"


class EditFile(_FileTool):
    spec = ToolSpec(
        "edit_file",
        "Replace the exact text `old` with `new` in a file; `old` must occur exactly once.",
        schema(
            {"path": {"type": "string"}, "old": {"type": "string"}, "new": {"type": "string"}},
            ("path", "old", "new"),
        ),
    )

    def do(self, args: dict[str, Any]) -> str:
        path = self.path(args["path"])
        shown = self.show(path)
        old, new = args["old"], args["new"]
        text, valid = _read_text(path, shown)
        if not valid:
            raise ToolError(f"`{shown}` is not valid UTF-8; rewrite it with write_file instead")
        if not old:
            raise ToolError("`old` is empty; give the exact text to replace")
        count = text.count(old)
        if count == 0:
            raise ToolError(
                f"`old` not found in `{shown}` (0 matches); read the file and copy the text exactly"
            )
        if count > 1:
            raise ToolError(
                f"`old` matches {count} times in `{shown}`; include more surrounding lines so it matches once"
            )
        replace_file(path, _sized(text.replace(old, new, 1).encode("utf-8"), shown))
        return f"edited `{shown}`"


class ListDir(_FileTool):
    spec = ToolSpec(
        "list_dir",
        "List a folder of the worktree (folders end with /).",
        schema({"path": {"type": "string", "description": "folder, default `.`"}}),
    )

    def do(self, args: dict[str, Any]) -> str:
        path = self.path(args.get("path") or ".")
        shown = self.show(path)
        if not path.is_dir():
            raise ToolError(f"`{shown}` is not a folder")
        names = sorted(
            entry.name + ("/" if entry.is_dir() else "")
            for entry in path.iterdir()
            if entry.name not in PRIVATE_PARTS
        )
        extra = [f"[... {len(names) - MAX_DIR_ENTRIES} more entries]"] if len(names) > MAX_DIR_ENTRIES else []
        return (
            "\n".join([f"`{shown}`:", *names[:MAX_DIR_ENTRIES], *extra]) if names else f"`{shown}` is empty"
        )


class Grep(_FileTool):
    spec = ToolSpec(
        "grep",
        "Search text files for a Python regular expression; prints path:line: text.",
        schema(
            {"pattern": {"type": "string"}, "path": {"type": "string", "description": "file or folder"}},
            ("pattern",),
        ),
    )

    def do(self, args: dict[str, Any]) -> str:
        try:
            regex = re.compile(args["pattern"])
        except re.error as exc:
            raise ToolError(f"invalid regular expression `{args['pattern']}`: {exc}") from None
        top = self.path(args.get("path") or ".")
        matches: list[str] = []
        for file in self._files(top):
            matches.extend(self._search(file, regex))
            if len(matches) >= MAX_GREP_MATCHES:
                extra = f"[results capped at {MAX_GREP_MATCHES} matches; narrow the pattern or path]"
                return "\n".join([*matches[:MAX_GREP_MATCHES], extra])
        return "\n".join(matches) if matches else f"no matches for `{args['pattern']}` in `{self.show(top)}`"

    def _files(self, top: Path) -> list[Path]:
        if top.is_file():
            return [top]
        if not top.is_dir():
            raise ToolError(f"`{self.show(top)}` does not exist")
        found: list[Path] = []
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d not in PRIVATE_PARTS)
            found.extend(Path(folder, name) for name in sorted(files))
        return found

    def _search(self, file: Path, regex: re.Pattern[str]) -> list[str]:
        try:
            file = resolve_path(self.root, str(file))
            single_link(file, str(file))
            if file.stat().st_size > MAX_GREP_FILE_BYTES:
                return []
            data = file.read_bytes()
        except (ToolError, OSError):  # symlinks out of the worktree, vanished or unreadable files
            return []
        if b"\0" in data[:8192]:
            return []
        shown = self.show(file)
        lines = data.decode("utf-8", errors="replace").splitlines()
        return [f"{shown}:{n}: {line[:300]}" for n, line in enumerate(lines, 1) if regex.search(line)]


def file_tools(root: Path) -> tuple[ReadFile, WriteFile, EditFile, ListDir, Grep]:
    """The five file tools bound to `root`."""
    return ReadFile(root), WriteFile(root), EditFile(root), ListDir(root), Grep(root)
