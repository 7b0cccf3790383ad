"""A CLI's private home: a temporary HOME and config folders, and an environment with one API key.

Nothing of the person's own configuration, credentials, plugins or history reaches the CLI, and
nothing the CLI writes there outlives the run.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shipyard.agent.sandbox import ENV_ALLOW, command_path

# Variables passed through from Shipyard's environment: those every agent command gets (`ENV_ALLOW`,
# but this home and no login shell of the person's) and certificates; keys above all stay behind. No
# proxy settings: a CLI talks to the gateway on this machine only, and the gateway uses the proxy.
PASS_THROUGH = (
    *(name for name in ENV_ALLOW if name not in ("HOME", "SHELL")),
    *("SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS"),
)
# Conventions that many tools honour to stay quiet and offline.
QUIET = {
    "DO_NOT_TRACK": "1",
    "NO_COLOR": "1",
    "TERM": "dumb",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "NO_UPDATE_NOTIFIER": "1",
    "npm_config_update_notifier": "false",
}


@dataclass(frozen=True)
class CliHome:
    """A temporary folder that serves as the CLI's HOME, XDG folders and `bin/` for helper links."""

    root: Path

    @classmethod
    def create(cls, cli: str) -> CliHome:
        root = Path(tempfile.mkdtemp(prefix=f"shipyard-{cli}-"))
        for sub in ("bin", ".config", ".cache", ".local/share", ".local/state"):
            (root / sub).mkdir(parents=True)
        return cls(root)

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def env(self, environ: Mapping[str, str], agent: str, extra: Mapping[str, str]) -> dict[str, str]:
        """The CLI's whole environment: a few safe variables, this home, a git identity, and `extra`."""
        env = {name: environ[name] for name in PASS_THROUGH if name in environ}
        env["PATH"] = f"{self.bin}:{command_path(environ)}"  # the PATH of the shell tool and the check
        env.update(QUIET)
        env.update(
            {
                "HOME": str(self.root),
                "XDG_CONFIG_HOME": str(self.root / ".config"),
                "XDG_CACHE_HOME": str(self.root / ".cache"),
                "XDG_DATA_HOME": str(self.root / ".local/share"),
                "XDG_STATE_HOME": str(self.root / ".local/state"),
            }
        )
        env.update(cli_git_identity(agent))
        env.update(extra)
        return env


def cli_git_identity(agent: str) -> dict[str, str]:
    """A git identity for commits a CLI makes on its own; deliberately not one Shipyard merges under,
    so the isolation check can tell such a commit on the shared branch from a real merge."""
    name, email = f"{agent} (cli)", f"{agent}@cli.invalid"
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
