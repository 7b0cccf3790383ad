"""What a sandboxed command sees, as bubblewrap mount arguments: the system read-only, a private `/tmp`,
the person's home, checkout and `.shipyard/` hidden, the git internals read-only (the worktree's own admin
folder too: Shipyard runs git there unsandboxed, so nothing in it may be the agent's), and the worktree
itself read-write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

STATE_DIR = ".shipyard"
# Scratch and runtime folders every command gets empty and private (sockets of the host live in /run).
SCRATCH = ("/tmp", "/var/tmp", "/run", "/dev/shm")
HOMES = ("/home", "/root")


class Kind(Enum):
    SCRATCH = "scratch"  # an empty, writable, private folder
    EMPTY = "empty"  # an empty folder, read-only (remounted so once everything inside it is mounted)
    READ = "--ro-bind"
    WRITE = "--bind"


@dataclass(frozen=True)
class GitLayout:
    """Where a worktree's git data lives: its `.git` entry, its admin folder, the common git folder."""

    worktree: Path
    dot_git: Path | None = None
    admin: Path | None = None
    common: Path | None = None

    @property
    def checkout(self) -> Path | None:
        """The person's own checkout (the main work tree) when the worktree is a linked one."""
        if self.common is None or self.common.name != ".git" or self.common.parent == self.worktree:
            return None
        return self.common.parent


def git_layout(worktree: Path) -> GitLayout:
    """Read `worktree/.git` (a folder, or a `gitdir:` file of a linked worktree) into a `GitLayout`."""
    root = worktree.resolve()
    dot_git = root / ".git"
    if dot_git.is_dir():
        return GitLayout(root, dot_git, None, dot_git)
    if not dot_git.is_file():
        return GitLayout(root)
    text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
    if not text.startswith("gitdir:"):
        return GitLayout(root, dot_git)
    admin = (root / text.removeprefix("gitdir:").strip()).resolve()
    common_file = admin / "commondir"
    common = admin
    if common_file.is_file():
        common = (admin / common_file.read_text(encoding="utf-8").strip()).resolve()
    return GitLayout(root, dot_git, admin, common)


@dataclass(frozen=True)
class View:
    """The inputs of a mount plan besides the worktree."""

    home: Path | None = None
    exposed: Sequence[Path] = ()
    hidden: Sequence[Path] = ()
    tmp_bytes: int = 0


def _hides(layout: GitLayout, view: View) -> list[tuple[Path, Kind]]:
    paths = [Path(p) for p in (*SCRATCH, *HOMES)]
    if view.home is not None:
        paths.append(view.home)
    empty = [*view.hidden, *([layout.checkout] if layout.checkout is not None else [])]
    rules = [(p.resolve(), Kind.SCRATCH) for p in paths] + [(p.resolve(), Kind.EMPTY) for p in empty]
    return [(path, kind) for path, kind in rules if path != Path("/")]  # hiding / would hide everything


def _git_rules(layout: GitLayout) -> list[tuple[Path, Kind]]:
    rules: list[tuple[Path, Kind]] = []
    if layout.common is not None:
        rules += [(layout.common, Kind.READ), (layout.common / "hooks", Kind.EMPTY)]
    if layout.admin is not None and layout.common is not None and layout.admin != layout.common:
        # Read-only as a whole: a link or file planted there (COMMIT_EDITMSG, logs/HEAD, config.worktree,
        # the index) would be written through or obeyed by the harness's own git on the host.
        rules += [(layout.common / "worktrees", Kind.EMPTY), (layout.admin, Kind.READ)]
    if layout.dot_git is not None:
        rules.append((layout.dot_git, Kind.READ))
    return rules


def plan(layout: GitLayout, view: View) -> list[tuple[Path, Kind]]:
    """Mount rules, shallow paths first so that a deeper rule wins over the one it sits in."""
    hides = _hides(layout, view)
    state = (layout.checkout or layout.worktree) / STATE_DIR
    private = [state, *([layout.common] if layout.common is not None else [])]
    exposed = _needed({p.resolve() for p in view.exposed}, [p for p, _ in hides], private)
    rules = [*hides, *[(p, Kind.READ) for p in exposed]]
    rules += [(state, Kind.EMPTY), (layout.worktree, Kind.WRITE), *_git_rules(layout)]
    seen: dict[Path, Kind] = {}
    for path, kind in rules:
        if path.exists():
            seen.pop(path, None)  # the later rule for the same path wins, keeping the order of the rest
            seen[path] = kind
    return sorted(seen.items(), key=lambda rule: len(rule[0].parts))


def _needed(exposed: set[Path], hidden: list[Path], private: list[Path]) -> list[Path]:
    """The paths to show again: those under a hidden folder, never inside a private one, outermost only."""
    wanted = [
        p
        for p in exposed
        if any(p.is_relative_to(h) for h in hidden) and not any(p.is_relative_to(q) for q in private)
    ]
    return sorted(p for p in wanted if not any(p != q and p.is_relative_to(q) for q in wanted))


def mount_args(layout: GitLayout, view: View) -> list[str]:
    """The bwrap arguments that build the sandbox's file system for `layout.worktree`."""
    args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    read_only = ["--remount-ro", "/dev"]  # device nodes still work; no files can be put there
    for path, kind in plan(layout, view):
        if kind is Kind.SCRATCH and view.tmp_bytes:
            args += ["--size", str(view.tmp_bytes)]
        if kind is Kind.SCRATCH:
            args += ["--tmpfs", str(path)]
        elif kind is Kind.EMPTY:
            args += ["--tmpfs", str(path)]
            read_only += ["--remount-ro", str(path)]
        else:
            args += [kind.value, str(path), str(path)]
    return [*args, *read_only, "--chdir", str(layout.worktree)]
