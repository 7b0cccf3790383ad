"""What an agent may have left in its worktree that Shipyard's own (unsandboxed) git must never touch.

A repository nested in the worktree brings its own config: git looks inside it when it stages the
folder, or when the folder is a gitlink (a submodule) whose checkout it compares, and then runs what
that config says (filters, fsmonitor) on the host. No command-line setting stops that for `git add`,
so the worktree is searched for nested `.git` entries before git runs there. Paths Shipyard keeps for
itself are never staged from a worker.
"""

from __future__ import annotations

import os
from pathlib import Path

from shipyard.errors import UnsafeWorktreeError

STATE_DIR = ".shipyard"
# What a worker's commit never holds: Shipyard's own folder, as a file, link or folder at any depth
# (a link at the top would replace the state folder in the person's checkout), and `.gitmodules`
# (submodule commands and URLs of the agent's choosing).
NEVER_STAGED = (
    f":(exclude,glob)**/{STATE_DIR}",
    f":(exclude,glob)**/{STATE_DIR}/**",
    ":(exclude,literal).gitmodules",
)


def nested_repositories(worktree: Path) -> list[str]:
    """Every `.git` entry (folder, file or link) below the worktree's top, as relative paths."""
    found: list[str] = []
    pending = [worktree]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name == ".git":
                if folder != worktree:
                    found.append(Path(entry.path).relative_to(worktree).as_posix())
            elif entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
    return sorted(found)


def refuse_nested(worktree: Path) -> None:
    """`UnsafeWorktreeError` naming the nested repositories in a worktree, if it holds any."""
    nested = nested_repositories(worktree)
    if nested:
        shown = ", ".join(nested[:5]) + (f" and {len(nested) - 5} more" if len(nested) > 5 else "")
        raise UnsafeWorktreeError(
            f"the worktree holds a nested git repository ({shown}); Shipyard does not commit nested "
            "repositories or submodules: delete those `.git` entries and commit the files themselves"
        )
