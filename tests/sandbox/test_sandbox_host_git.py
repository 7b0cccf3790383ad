"""Host-side git on what a worker leaves behind: Shipyard runs git unsandboxed on the worker's worktree,
its admin folder and the merged tree, so a worker that plants code or links there gets out. Every attack
plants its payload from inside the real sandbox; every one has a positive control that plants the same
payload as the old sandbox allowed (or runs plain git) and sees its marker, so a quiet test means the
defence held, not that the attack never ran."""

from __future__ import annotations

import asyncio
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli_helpers import GIT_ENV, git, make_repo
from shipyard.agent.shell import Shell
from shipyard.errors import UnsafeWorktreeError
from shipyard.git import SHIPYARD, GitRepo

SAND_IDENTITY = "export " + " ".join(f"{k}={v}" for k, v in GIT_ENV.items()) + "; "
# Every file git writes in a worktree's admin folder when Shipyard commits or merges there.
ADMIN_FILES = (
    "COMMIT_EDITMSG",
    "logs/HEAD",
    "index",
    "ORIG_HEAD",
    "MERGE_MSG",
    "MERGE_MODE",
    "AUTO_MERGE",
    "config.worktree",
    "info/sparse-checkout",
    "info/exclude",
)
HOOKS = (
    "pre-commit",
    "commit-msg",
    "post-commit",
    "pre-merge-commit",
    "post-merge",
    "post-checkout",
    "post-index-change",
    "reference-transaction",
    "post-rewrite",
)


@dataclass(frozen=True)
class Site:
    """A target repository, one Shipyard worktree in it, and a folder for markers outside both."""

    repo: GitRepo
    worktree: Path
    outside: Path

    @property
    def admin(self) -> Path:
        return self.repo.git_dir / "worktrees" / self.worktree.name

    def sandboxed(self, command: str) -> str:
        """Run `command` as the worker would: in the worktree, inside the real sandbox."""
        return asyncio.run(Shell(self.worktree).run({"command": SAND_IDENTITY + command})).text

    def commit(self, message: str = "agent work") -> str | None:
        return self.repo.commit_all(self.worktree, message, SHIPYARD, SHIPYARD)

    def markers(self) -> list[str]:
        return sorted(p.name for p in self.outside.iterdir() if p.name.startswith("pwned"))


def plain(cwd: Path, command: str) -> subprocess.CompletedProcess[str]:
    """What plain host-side git (or an unsandboxed worker) would do: no Shipyard protections."""
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    repo = GitRepo.open(make_repo(tmp_path / "target"))
    repo.ensure_ignored("/.shipyard/")
    worktree = repo.add_worktree(repo.root / ".shipyard" / "worktrees" / "w", "shipyard/w", "main")
    outside = tmp_path / "outside"
    outside.mkdir()
    return Site(repo, worktree, outside)


def _links(site: Site, victims: Path) -> str:
    """Links from every admin file to a victim file of the same name (the index's victim is a copy of
    the real index, which git must be able to read)."""
    victims.mkdir(exist_ok=True)
    lines = []
    for name in ADMIN_FILES:
        victim = victims / name.replace("/", "-")
        victim.write_bytes(_victim_bytes(site, name))
        lines.append(f"mkdir -p {(site.admin / name).parent}; ln -sfn {victim} {site.admin / name}")
    return "; ".join(lines)


def _victim_bytes(site: Site, name: str) -> bytes:
    if name == "index":
        return (site.admin / "index").read_bytes()
    if name in ("ORIG_HEAD", "AUTO_MERGE"):  # refs: git must be able to read them
        return f"{site.repo.rev_parse('main')}\n".encode()
    return b"victim\n"


def _changed(site: Site, victims: Path, before: dict[str, bytes]) -> list[str]:
    return sorted(name for name, data in before.items() if (victims / name).read_bytes() != data)


def _commit_and_merge(site: Site) -> None:
    """The host-side git that a worker's worktree gets: a commit, a merge of a moved main, a commit."""
    (site.worktree / "work.txt").write_text("work\n")
    site.commit("agent work\n\n#!/bin/sh\ntouch pwned\n")
    git(site.repo.root, "-c", "core.hooksPath=/dev/null", "commit", "-q", "--allow-empty", "-m", "moved")
    site.repo.start_merge(site.worktree, "main")
    (site.worktree / "more.txt").write_text("more\n")
    site.commit()


def test_the_admin_folder_cannot_hold_links_for_host_git(site: Site, tmp_path: Path) -> None:
    victims = tmp_path / "victims"
    out = site.sandboxed(_links(site, victims))
    before = {p.name: p.read_bytes() for p in victims.iterdir()}
    _commit_and_merge(site)
    assert _changed(site, victims, before) == []
    assert out.count("Read-only file system") >= len(ADMIN_FILES), out


def test_control_links_planted_in_the_admin_folder_are_written_through(site: Site, tmp_path: Path) -> None:
    victims = tmp_path / "victims"
    plain(site.worktree, _links(site, victims))  # what the writable admin folder allowed
    before = {p.name: p.read_bytes() for p in victims.iterdir()}
    _commit_and_merge(site)
    changed = _changed(site, victims, before)
    assert {"COMMIT_EDITMSG", "logs-HEAD", "index"} <= set(changed), changed


def _worktree_config(site: Site) -> str:
    hooks = site.outside / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "post-commit").write_text(f"#!/bin/sh\ntouch {site.outside}/pwned-hook\n")
    (hooks / "post-commit").chmod(0o755)
    return (
        f"git config --worktree filter.evil.clean 'touch {site.outside}/pwned-filter; cat'; "
        f"git config --worktree core.hooksPath {hooks}; "
        "printf '* filter=evil\\n' > .gitattributes; echo x > a.txt"
    )


def test_worktree_config_cannot_give_host_git_filters_or_hooks(site: Site) -> None:
    git(site.repo.root, "config", "extensions.worktreeConfig", "true")  # as `git sparse-checkout init`
    out = site.sandboxed(_worktree_config(site))
    site.commit()
    assert site.markers() == []
    assert out.count("could not lock config file") == 2, out


def test_control_worktree_config_runs_filters_on_host_git(site: Site) -> None:
    git(site.repo.root, "config", "extensions.worktreeConfig", "true")
    plain(site.worktree, _worktree_config(site))  # what the writable admin folder allowed
    site.commit()
    assert site.markers() == ["pwned-filter"]  # the filter ran; the hook did not (command line wins)


def _nested(site: Site, where: str, make: str = "") -> str:
    """Make `where` a repository (by `make`, or a fresh one) whose config runs a command when git looks
    at its files, and change a file there without changing its size."""
    fresh = f"git init -q {where} && echo x > {where}/f && git -C {where} add f"
    make = make or f"{fresh} && git -C {where} commit -qm s"
    return (
        f"{make} && git -C {where} config filter.evil.clean 'touch {site.outside}/pwned-filter; cat' && "
        f"git -C {where} config core.fsmonitor 'touch {site.outside}/pwned-fsmonitor; false' && "
        f"printf '* filter=evil\\n' > {where}/.gitattributes && "
        f"echo y > {where}/f && touch -d 2001-01-01 {where}/f && echo planted"
    )


# A copy of the repository checked out at the commit the gitlink `sub` names: git then looks inside it.
_SUB = (
    "sha=$(git rev-parse HEAD:sub) && "
    'git clone -q -n --no-local "$(git rev-parse --git-common-dir)" sub && '
    "git -C sub checkout -q $sha && echo x > sub/f"
)


def test_a_nested_repository_is_refused_not_committed(site: Site) -> None:
    assert site.sandboxed(_nested(site, "nested")).endswith("planted")
    (site.worktree / "work.txt").write_text("work\n")
    with pytest.raises(UnsafeWorktreeError, match=r"nested/\.git"):
        site.commit()
    assert site.repo.rev_parse("shipyard/w") == site.repo.rev_parse("main")
    assert site.markers() == []


def _gitlink_on_main(site: Site) -> None:
    """The person's main holds a gitlink `sub` (a submodule at main's first commit); the worktree is
    made again from it."""
    sha = site.repo.rev_parse("main") or ""
    git(site.repo.root, "update-index", "--add", "--cacheinfo", f"160000,{sha},sub")
    git(site.repo.root, "commit", "-q", "-m", "submodule")
    site.repo.remove_worktree(site.worktree, "shipyard/w")
    site.repo.add_worktree(site.worktree, "shipyard/w", "main")


def test_a_repository_planted_in_a_gitlink_folder_is_refused(site: Site) -> None:
    _gitlink_on_main(site)
    assert site.sandboxed(_nested(site, "sub", _SUB)).endswith("planted")
    with pytest.raises(UnsafeWorktreeError, match=r"sub/\.git"):
        site.commit()
    assert site.markers() == []


def test_control_git_add_runs_a_planted_gitlink_repositorys_filter(site: Site) -> None:
    _gitlink_on_main(site)
    assert site.sandboxed(_nested(site, "sub", _SUB)).endswith("planted")
    plain(site.worktree, "git -c core.fsmonitor=false -c diff.ignoreSubmodules=all add --all")
    assert "pwned-filter" in site.markers()


def test_a_reused_checkout_drops_a_planted_repository(site: Site, tmp_path: Path) -> None:
    _gitlink_on_main(site)
    assert site.sandboxed(_nested(site, "sub", _SUB)).endswith("planted")
    spot = tmp_path / "spot"
    site.repo.remove_worktree(site.worktree, "shipyard/w", spot)
    site.repo.add_worktree(site.worktree, "shipyard/w", "main", spot)
    assert not (site.worktree / "sub" / ".git").exists()
    (site.worktree / "work.txt").write_text("work\n")
    assert site.commit() is not None and site.markers() == []


def test_gitmodules_and_shipyard_entries_are_never_committed(site: Site) -> None:
    plant = (
        "printf '[submodule \"x\"]\\n\\tpath = x\\n\\turl = ./x\\n' > .gitmodules; "
        f"printf '\\tupdate = !touch {site.outside}/pwned\\n' >> .gitmodules; "
        f"ln -s {site.outside} .shipyard; mkdir -p d/.shipyard; echo s > d/.shipyard/f; "
        "ln -s / e.shipyard; echo w > work.txt; echo planted"
    )
    assert site.sandboxed(plant).endswith("planted")
    sha = site.commit()
    assert sha is not None
    files = git(site.worktree, "ls-tree", "-r", "--name-only", sha).split()
    assert sorted(files) == ["README.md", "e.shipyard", "work.txt"]


def test_pathspec_settings_of_the_environment_do_not_let_a_shipyard_link_in(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_LITERAL_PATHSPECS", "1")  # would make `:(exclude)...` a plain file name
    (site.worktree / ".shipyard").symlink_to(site.outside)
    (site.worktree / "work.txt").write_text("work\n")
    sha = site.commit()
    assert sha is not None and ".shipyard" not in git(site.worktree, "ls-tree", "--name-only", sha).split()


def test_control_plain_git_commits_a_shipyard_link(site: Site) -> None:
    plain(site.worktree, f"ln -s {site.outside} .shipyard && git add --all && git commit -qm link")
    assert ".shipyard" in git(site.worktree, "ls-tree", "--name-only", "HEAD").split()


def _land_shipyard_link(site: Site) -> tuple[str, str]:
    """A commit whose tree holds a `.shipyard` link lands on main (made by plain git: Shipyard's commit
    leaves such a link out); returns main's tip before and after."""
    state = site.repo.root / ".shipyard"
    (state / "board.sqlite").write_text("board\n")
    plain(site.worktree, f"ln -s {site.outside} .shipyard && git add --all && git commit -qm link")
    old = site.repo.rev_parse("main") or ""
    result = site.repo.merge_onto("main", site.repo.rev_parse("shipyard/w") or "", "land", SHIPYARD, SHIPYARD)
    assert result.merged and result.sha is not None
    return old, result.sha


def test_the_checkout_sync_never_replaces_the_state_folder(site: Site) -> None:
    old, new = _land_shipyard_link(site)
    assert site.repo.sync_checkout("main", old, new) is False
    state = site.repo.root / ".shipyard"
    assert not state.is_symlink() and (state / "board.sqlite").read_text() == "board\n"
    assert list(site.outside.iterdir()) == []


def test_control_plain_read_tree_replaces_the_state_folder(site: Site) -> None:
    old, new = _land_shipyard_link(site)
    plain(site.repo.root, f"git read-tree -m -u {old} {new}")
    assert (site.repo.root / ".shipyard").is_symlink()


def _install_hooks(site: Site) -> None:
    hooks = site.repo.git_dir / "hooks"
    for name in HOOKS:
        (hooks / name).write_text(f"#!/bin/sh\ntouch {site.outside}/pwned-{name}\n")
        (hooks / name).chmod(0o755)


def test_the_persons_hooks_never_run_on_shipyards_git(site: Site, tmp_path: Path) -> None:
    _install_hooks(site)
    spot = tmp_path / "spot"
    site.repo.remove_worktree(site.worktree, "shipyard/w", spot)
    site.repo.add_worktree(site.worktree, "shipyard/w", "main", spot)
    _commit_and_merge(site)
    old = site.repo.rev_parse("main") or ""
    landed = site.repo.merge_onto("main", site.repo.rev_parse("shipyard/w") or "", "m", SHIPYARD, SHIPYARD)
    assert landed.sha is not None and site.repo.sync_checkout("main", old, landed.sha)
    site.repo.remove_worktree(site.worktree, "shipyard/w")
    other = site.repo.add_worktree(tmp_path / "other", "shipyard/o", "main")  # git's own checkout path
    site.repo.remove_worktree(other, "shipyard/o")
    assert site.markers() == []


def test_control_the_persons_hooks_run_on_plain_git(site: Site) -> None:
    _install_hooks(site)
    plain(site.repo.root, "echo x > x.txt && git add x.txt && git commit -qm x")
    assert {"pwned-pre-commit", "pwned-post-commit", "pwned-reference-transaction"} <= set(site.markers())


def test_a_run_gives_back_a_task_whose_worktree_holds_a_repository(tmp_path: Path) -> None:
    from cli_helpers import invoke, write_script
    from shipyard.board.sqlite import SqliteBoard

    repo = make_repo(tmp_path / "target")
    plant = SAND_IDENTITY + "git init -q nested && echo x > nested/f && git -C nested add f"
    task = {"title": "Nest", "description": "d", "acceptance": "a", "scope": ["."]}
    script = write_script(
        tmp_path / "script.json",
        {
            "planner": [
                {"tool_calls": [{"name": "create_task", "arguments": task}]},
                *[{"tool_calls": [{"name": "finish", "arguments": {"summary": "s"}}]}] * 2,
            ],
            "worker": [
                {"tool_calls": [{"name": "shell", "arguments": {"command": plant}}]},
                {"tool_calls": [{"name": "finish", "arguments": {"summary": "nested it"}}]},
            ],
            "judge": [{"tool_calls": [{"name": "verdict", "arguments": {"decision": "stop", "notes": "n"}}]}],
        },
    )
    (repo / "shipyard.toml").write_text(
        f'goal = "g"\nworkers = 1\nmax_cycles = 1\n[models]\ndefault = "scripted:{script}"\n'
        "[fleet]\nmax_attempts = 1\n"
    )
    invoke("run", str(repo))
    board = SqliteBoard(repo / ".shipyard" / "board.sqlite")
    try:
        (failed,) = board.tasks()
    finally:
        board.close()
    assert failed.status.value == "failed" and failed.handoff is not None
    assert failed.handoff.summary == "nested it"
    said = "Not committed: the worktree holds a nested git repository (nested/.git)"
    assert said in failed.handoff.concerns
    assert git(repo, "log", "--format=%s", "main").splitlines() == ["init"]


@pytest.mark.parametrize("kind", ["file", "folder", "gitlink"])
def test_the_checkout_sync_refuses_any_state_entry(site: Site, kind: str) -> None:
    sha = site.repo.rev_parse("main") or ""
    make = {
        "file": "echo x > .shipyard && git add --all",
        "folder": "mkdir .shipyard && echo x > .shipyard/f && git add -f .shipyard",
        "gitlink": f"git update-index --add --cacheinfo 160000,{'1' * len(sha)},.shipyard",
    }[kind]
    plain(site.worktree, f"{make} && git commit -qm state")
    old = site.repo.rev_parse("main") or ""
    result = site.repo.merge_onto("main", site.repo.rev_parse("shipyard/w") or "", "land", SHIPYARD, SHIPYARD)
    assert result.sha is not None and site.repo.sync_checkout("main", old, result.sha) is False
    assert (site.worktree / ".git").is_file()  # the state folder (and the worktree in it) are still there
    (site.worktree / "ok.txt").write_text("ok\n")
    assert site.commit() is not None  # and a tip without one syncs
    plain(site.worktree, "git rm -rq --cached .shipyard && git commit -qm unstate")
    landed = site.repo.merge_onto("main", site.repo.rev_parse("shipyard/w") or "", "m", SHIPYARD, SHIPYARD)
    assert landed.sha is not None and site.repo.sync_checkout("main", old, landed.sha) is True
