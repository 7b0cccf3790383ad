"""A commit's new objects as git's own loose-object files: how a worker's commit comes back from a
cluster node without a bundle (git packs a bundle and the receiver unpacks it: four processes for the
few objects of one commit). The receiver checks every object's name against its content before it
writes it, so a node can add objects but never forge one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from shipyard.git.run import git

MAX_OBJECTS = 2000  # a commit with more new objects than this travels as a bundle
_HEX = frozenset("0123456789abcdef")


def new_objects(root: Path, tip: str, bases: Sequence[str]) -> list[str]:
    """The objects reachable from `tip` and from none of `bases`."""
    out = git(root, "rev-list", "--objects", tip, "--not", *bases).stdout
    return [line.split(" ", 1)[0] for line in out.splitlines() if line]


def read_loose(objects_dir: Path, names: Sequence[str]) -> dict[str, bytes] | None:
    """The files of `names` in `objects_dir`; None when one is not a loose object there (it is packed, or
    in an alternate), or when there are too many: then a bundle carries them."""
    if len(names) > MAX_OBJECTS:
        return None
    found = {}
    for name in names:
        try:
            found[name] = (objects_dir / name[:2] / name[2:]).read_bytes()
        except OSError:
            return None
    return found


def write_loose(objects_dir: Path, objects: Mapping[str, bytes]) -> None:
    """Store `objects` (name: loose-object file) in `objects_dir`, each checked against its name first;
    `ValueError` names the first that does not match (nothing of a bad batch is written)."""
    for name, data in objects.items():
        _check(name, data)
    for name, data in objects.items():
        path = objects_dir / name[:2] / name[2:]
        if path.exists():
            continue
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="tmp_obj_")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o444)
        os.replace(tmp, path)


def _check(name: str, data: bytes) -> None:
    if len(name) != 40 or not set(name) <= _HEX:
        raise ValueError(f"not a SHA-1 object name: {name!r}")
    try:
        raw = zlib.decompress(data)
    except zlib.error:
        raise ValueError(f"object {name}: not a zlib stream") from None
    header, sep, body = raw.partition(b"\0")
    kind, _, size = header.partition(b" ")
    if not sep or kind not in (b"blob", b"tree", b"commit", b"tag") or size != str(len(body)).encode():
        raise ValueError(f"object {name}: not a git object")
    if hashlib.sha1(raw).hexdigest() != name:  # git names its objects by SHA-1
        raise ValueError(f"object {name}: its content has another name")
