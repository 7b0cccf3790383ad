"""Helpers for git tests (a module of its own: `conftest` names clash across test folders)."""

from __future__ import annotations

from pathlib import Path

from shipyard.git import Identity
from shipyard.git.identity import identity_env
from shipyard.git.run import git

ALICE = Identity("Alice", "alice@example.com")


class Tree:
    """Small helpers to shape a repository the way a test needs it."""

    def git(self, cwd: Path, *args: str) -> str:
        """Run git as Alice and return its stripped output."""
        return git(cwd, *args, env=identity_env(ALICE, ALICE)).stdout.strip()

    def write(self, cwd: Path, files: dict[str, str]) -> None:
        """Write files (relative paths) under `cwd`."""
        for name, text in files.items():
            target = cwd / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

    def commit(self, cwd: Path, files: dict[str, str], message: str = "change") -> str:
        """Write files, commit them in the work tree at `cwd` and return the new sha."""
        self.write(cwd, files)
        self.git(cwd, "add", "--all")
        self.git(cwd, "commit", "--quiet", "-m", message)
        return self.git(cwd, "rev-parse", "HEAD")

    def init(self, path: Path, files: dict[str, str] | None = None) -> Path:
        """A fresh repository on `main` with one commit."""
        path.mkdir(parents=True, exist_ok=True)
        self.git(path, "init", "--quiet", "-b", "main")
        self.commit(path, files or {"README.md": "hello\n", "c.txt": "1\n2\n3\n"}, "init")
        return path
