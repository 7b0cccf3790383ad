"""Work in a worktree: what changed, committing it, and merging the shared branch in for the agent."""

from __future__ import annotations

from pathlib import Path

from shipyard.errors import GitError
from shipyard.git.hazard import NEVER_STAGED, STATE_DIR, refuse_nested
from shipyard.git.identity import SHIPYARD, Identity, identity_env
from shipyard.git.ref import head_commit, no_merge_pending, rev_parse
from shipyard.git.run import NO_REFLOG, git, nul_split

SHIPYARD_DIR = STATE_DIR


def status_paths(worktree: Path) -> list[str]:
    """Paths with staged, unstaged or untracked changes in a work tree, Shipyard's own folder left out."""
    out = git(worktree, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames")
    paths = [field[3:] for field in nul_split(out.stdout)]
    return sorted(p for p in paths if p != SHIPYARD_DIR and not p.startswith(f"{SHIPYARD_DIR}/"))


def commit_all(
    worktree: Path, message: str, author: Identity, committer: Identity, merge_head: str | None = None
) -> str | None:
    """Stage everything and commit; None when there was nothing to commit.

    Concludes a pending merge only if its MERGE_HEAD is `merge_head` (the one the harness started); a
    MERGE_HEAD an agent wrote itself is dropped, so no commit can graft in a parent of its choosing.
    Refuses (`UnsafeWorktreeError`) a worktree holding a nested repository, before git looks at it;
    anything named `.shipyard`, and `.gitmodules`, are left out of the commit.
    """
    refuse_nested(worktree)
    merging = _keep_only_our_merge(worktree, merge_head)
    git(worktree, "add", "--all", "--", ".", *NEVER_STAGED)
    env = identity_env(author, committer)
    done = git(
        worktree,
        *NO_REFLOG,
        "commit",
        "--quiet",
        "--no-verify",
        "--file=-",
        env=env,
        stdin=message,
        ok=(0, 1),
    )
    if done.code == 1:  # nothing staged, or a hook refused: only the first is not an error
        if merging or git(worktree, "diff", "--cached", "--quiet", "--no-ext-diff", ok=(0, 1)).code == 1:
            raise GitError(["commit"], 1, done.stderr or done.stdout)
        return None
    return head_commit(worktree) or git(worktree, "rev-parse", "HEAD").stdout.strip()


def _keep_only_our_merge(worktree: Path, expected: str | None) -> bool:
    """Whether the merge the harness started is pending; any other MERGE_HEAD is dropped."""
    if no_merge_pending(worktree):
        return False
    found = rev_parse(worktree, "MERGE_HEAD")
    if found is None:
        return False
    if found == expected:
        return True
    for name in ("MERGE_HEAD", "MERGE_MSG", "MERGE_MODE"):
        raw = git(worktree, "rev-parse", "--git-path", name).stdout.strip()
        path = Path(raw) if Path(raw).is_absolute() else worktree / raw
        path.unlink(missing_ok=True)
    return False


def start_merge(worktree: Path, ref: str, identity: Identity = SHIPYARD) -> tuple[str, ...]:
    """Merge `ref` into the worktree's branch; the conflicted paths, with markers left in the files."""
    env = identity_env(identity, identity)
    done = git(worktree, *NO_REFLOG, "merge", "--no-edit", "--no-ff", "--no-verify", ref, env=env, ok=(0, 1))
    if done.code == 0:
        return ()
    conflicts = conflicted_paths(worktree)
    if not conflicts:  # exit 1 without conflicts: git refused to start (e.g. local changes in the way)
        raise GitError(["merge", ref], done.code, done.stderr or done.stdout)
    return conflicts


def conflicted_paths(worktree: Path) -> tuple[str, ...]:
    """The paths with unresolved merge conflicts in a work tree."""
    out = git(worktree, "diff", "--name-only", "-z", "--no-ext-diff", "--diff-filter=U")
    return tuple(dict.fromkeys(nul_split(out.stdout)))
