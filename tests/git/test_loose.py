"""A commit's new objects travel as loose-object files: the receiver checks each against its name, so a
node can add objects to the head's repository but never forge one; packed objects fall back to a bundle."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from cli_helpers import git, make_repo
from shipyard.git.loose import new_objects, read_loose, write_loose


def _commit(root: Path, name: str) -> str:
    (root / name).write_text(f"{name}\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", name)
    return git(root, "rev-parse", "HEAD").strip()


def test_a_commits_new_objects_arrive_whole(tmp_path: Path) -> None:
    node = make_repo(tmp_path / "node")
    base = git(node, "rev-parse", "HEAD").strip()
    tip = _commit(node, "a.txt")
    head = tmp_path / "head"
    git(tmp_path, "init", "-q", str(head))
    git(head, "fetch", "-q", str(node), f"{base}:refs/heads/main")  # the head holds the base only
    assert git(head, "rev-list", "--all").split() == [base]
    names = new_objects(node, tip, [base])
    assert len(names) == 3  # the commit, its tree, the new blob
    found = read_loose(node / ".git" / "objects", names)
    assert found is not None
    write_loose(head / ".git" / "objects", found)
    assert git(head, "cat-file", "-p", f"{tip}:a.txt") == "a.txt\n"
    git(head, "fsck", "--no-dangling")


def test_a_forged_object_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    objects = tmp_path / "objects"
    objects.mkdir()
    real = zlib.compress(b"blob 3\0hi\n")
    name = "45b983be36b73c0788dc9cbcb76cbb80fc7bb057"  # git hash-object of "hi\n"
    forged = {name: real, "0" * 40: real}  # the second claims a name its content does not have
    with pytest.raises(ValueError, match="its content has another name"):
        write_loose(objects, forged)
    assert not any(objects.iterdir()), "nothing of a bad batch is written"
    write_loose(objects, {name: real})
    assert (objects / name[:2] / name[2:]).read_bytes() == real


def test_packed_objects_are_not_sent_loose(tmp_path: Path) -> None:
    node = make_repo(tmp_path / "node")
    tip = git(node, "rev-parse", "HEAD").strip()
    git(node, "gc", "-q")  # everything packed
    assert read_loose(node / ".git" / "objects", new_objects(node, tip, [])) is None
