"""The one exception tree of Shipyard."""

from __future__ import annotations


class ShipyardError(Exception):
    """Base of every error Shipyard raises on purpose."""


class UserError(ShipyardError):
    """Bad input from the person: the message names the problem and the fix. The CLI exits 2."""


class Problems(UserError):
    """Several user errors found at once; the CLI prints one line each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = tuple(lines)


class ConfigError(UserError):
    """`shipyard.toml` or a CLI override is invalid."""


class SetupError(ConfigError):
    """The machine lacks what the configuration needs (bubblewrap, git, a CLI); reported after the
    problems in what the person wrote."""


class RepoError(UserError):
    """The target is not a usable git repository."""


class GitError(ShipyardError):
    """A git command failed unexpectedly."""

    def __init__(self, args: list[str], code: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args)} exited {code}: {stderr.strip()[:500]}")
        self.code = code
        self.stderr = stderr


class BoardError(ShipyardError):
    """A board operation was refused (unknown task, lease not held, ...)."""


class ModelError(ShipyardError):
    """A model call failed; `retryable` tells whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class ScriptError(ModelError):
    """A scripted model met a turn it did not expect, or was left with turns it never played."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class ToolError(ShipyardError):
    """A tool call from an agent was invalid; the message goes back to the agent, the run goes on."""


class UnsafeWorktreeError(ShipyardError):
    """A worktree holds what Shipyard will not run git on or commit (a nested repository): the message
    names the paths and the fix, for the worker's handoff."""
