"""Facts for `shipyard doctor` about CLI backends: the `PATH` and Python their commands see (the same
as the shell tool's and the check's), and whether the project's check command resolves there."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass

from shipyard.agent.sandbox import command_path
from shipyard.backends.catalog import here, kind_of
from shipyard.config import ShipyardConfig

# Words a check may start with that are the shell's own, not programs on PATH.
SHELL_WORDS = frozenset({"cd", "export", "set", "source", ".", "test", "[", "true", "false", "exec", "env"})


@dataclass(frozen=True)
class CommandEnvironment:
    """What one configured CLI backend's commands will see."""

    where: str  # e.g. `backends.worker`
    cli: str
    path: str
    python: str | None  # the `python3` its commands run, if any
    check: str
    check_program: str | None  # the check's first program, as resolved on `path` (None: not found)

    @property
    def warning(self) -> str | None:
        """One line when the check cannot run there, with the fix."""
        if not self.check or self.check_program is not None:
            return None
        program = shlex.split(self.check)[0] if self.check.strip() else ""
        return (
            f"{self.where} ({self.cli}): the check `{self.check}` does not resolve: `{program}` is not on "
            "its PATH; activate the project's virtualenv before starting Shipyard, or use an absolute path"
        )


def command_environments(config: ShipyardConfig, environ: Mapping[str, str]) -> list[CommandEnvironment]:
    """One entry per configured CLI backend this machine runs (on Ray, not the workers'), in order."""
    path = command_path(environ)
    python = shutil.which("python3", path=path)
    found = []
    for role, entries in here(config).items():
        if role.value not in config.backends:
            continue  # sub-planners on the planner's backends: reported once, as the planner's
        for entry in entries:
            kind = kind_of(entry, f"backends.{role.value}")
            found.append(
                CommandEnvironment(
                    f"backends.{role.value}",
                    kind.name,
                    path,
                    python,
                    config.check,
                    resolve(config.check, path),
                )
            )
    return found


def resolve(check: str, path: str) -> str | None:
    """The check's first program as found on `path` (a shell word resolves to itself), or None."""
    try:
        words = shlex.split(check)
    except ValueError:
        return None
    while words and "=" in words[0] and words[0].split("=", 1)[0].isidentifier():
        words = words[1:]  # `VAR=value` prefixes
    if not words:
        return None
    if words[0] in SHELL_WORDS:
        return words[0]
    return shutil.which(words[0], path=path)
