"""Config files a repository's git reads from inside its own work tree, brought in by an `include.path`
or `includeIf` line (a team's shared `.gitconfig`, say). A worker's commit can change such a file once
it is merged into the person's checkout, and Shipyard's own git, which runs unsandboxed, would then obey
what it says (a filter driver, a pager, an editor): so a run refuses to start on such a repository.
"""

from __future__ import annotations

from pathlib import Path

from shipyard.errors import RepoError
from shipyard.git.run import git

_ORIGIN = "file:"


def configs_inside(root: Path, git_dir: Path) -> list[Path]:
    """The config files git reads for the repository at `root` that lie in its work tree (outside its
    git folder `git_dir`), as paths relative to `root`."""
    out = git(root, "config", "--list", "--show-origin", "--includes", "-z", ok=(0, 1)).stdout
    fields = out.split("\0")
    origins = {field.removeprefix(_ORIGIN) for field in fields[::2] if field.startswith(_ORIGIN)}
    found: set[Path] = set()
    for origin in origins:
        path = (root / origin).resolve()  # a relative origin is relative to where git ran: `root`
        if path.is_relative_to(root) and not path.is_relative_to(git_dir):
            found.add(path.relative_to(root))
    return sorted(found)


def refuse_configs_inside(root: Path, git_dir: Path) -> None:
    """`RepoError` naming the first config file of the repository's own work tree that git reads."""
    inside = configs_inside(root, git_dir)
    if inside:
        raise RepoError(
            f"git's configuration includes {inside[0]}, a file inside {root} (an `include.path` or "
            "`includeIf` line): a worker's merged commit could rewrite it and Shipyard's own git would "
            "obey it on this machine; move it outside the repository and point the include there"
        )
