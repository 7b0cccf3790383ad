"""Bundles as cluster nodes and the head exchange them: git's own format, made and stored with one
process each, strictly checked where they come from a node."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cli_helpers import git, make_repo
from shipyard.errors import GitError
from shipyard.git.bundle import UNPACK_LIMIT, create_bundle, read_head, store_bundle


def _commit(root: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def _bare(path: Path) -> Path:
    git(path.parent, "init", "-q", "--bare", str(path))
    return path


def test_a_bundle_is_one_git_itself_verifies_and_fetches(tmp_path: Path) -> None:
    head = make_repo(tmp_path / "head")
    base = git(head, "rev-parse", "HEAD").strip()
    tip = _commit(head, {"a.txt": "a\n"}, "a")
    data = create_bundle(head, tip, [base])
    assert read_head(data).tip == tip and read_head(data).prerequisites == (base,)
    (tmp_path / "b.bundle").write_bytes(data)

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(head), str(clone))
    git(clone, "bundle", "verify", str(tmp_path / "b.bundle"))
    git(clone, "fetch", "-q", str(tmp_path / "b.bundle"), "refs/shipyard/tip:refs/heads/got")
    assert git(clone, "rev-parse", "got").strip() == tip


def test_only_what_the_receiver_lacks_travels_and_nothing_new_is_empty(tmp_path: Path) -> None:
    head = make_repo(tmp_path / "head")
    base = git(head, "rev-parse", "HEAD").strip()
    node = _bare(tmp_path / "node.git")
    assert store_bundle(node, create_bundle(head, base)) == base
    tip = _commit(head, {"a.txt": "a\n"}, "a")

    data = create_bundle(head, tip, [base])
    count = git(head, "rev-list", "--objects", tip, f"^{base}").count("\n")
    assert count == 3, "a commit, its tree and one blob"
    assert store_bundle(node, data) == tip
    assert git(node, "cat-file", "-t", tip).strip() == "commit"
    assert create_bundle(head, base, [tip]) == b"", "an ancestor of what the receiver holds: nothing"


def test_a_strict_store_refuses_a_bundle_whose_base_is_missing(tmp_path: Path) -> None:
    head = make_repo(tmp_path / "head")
    base = git(head, "rev-parse", "HEAD").strip()
    tip = _commit(head, {"a.txt": "a\n"}, "a")
    node = _bare(tmp_path / "node.git")  # never got `base`

    with pytest.raises(GitError):
        store_bundle(node, create_bundle(head, tip, [base]), strict=True)
    assert subprocess.run(["git", "-C", str(node), "cat-file", "-e", tip], check=False).returncode != 0


def test_a_large_bundle_is_kept_as_a_pack(tmp_path: Path) -> None:
    head = make_repo(tmp_path / "head")
    tip = _commit(head, {f"d/f{i}.txt": f"{i}\n" for i in range(UNPACK_LIMIT + 5)}, "many")
    node = _bare(tmp_path / "node.git")
    assert store_bundle(node, create_bundle(head, tip), strict=True) == tip
    assert list((node / "objects" / "pack").glob("*.idx")), "an index-pack, not a hundred loose objects"
    assert git(node, "rev-list", "--objects", tip) == git(head, "rev-list", "--objects", tip)


def test_what_is_not_a_bundle_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a v2 git bundle"):
        store_bundle(make_repo(tmp_path / "head"), b"PACK not a bundle")
