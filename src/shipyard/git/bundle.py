"""Git bundles: how commits travel between the head's repository and a cluster node's clone (no shared
file system, no push rights: each side stores what the other sent).

A bundle here is git's own v2 format (`git bundle verify` and `git fetch` read it), made and read with
one git process each: `pack-objects` writes its pack and the header is written here; the receiver
hands the pack to `unpack-objects` (or `index-pack` when it is large). `git bundle create` and
`git fetch` would take six processes for the same bytes, and they ran for every task.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import GitError
from shipyard.git.run import NO_REFLOG, git, git_bytes

_SIGNATURE = b"# v2 git bundle\n"
UNPACK_LIMIT = 100  # git's `fetch.unpackLimit`: a bigger pack is kept as a pack, not as loose objects
TIP_REF = "refs/shipyard/tip"


@dataclass(frozen=True)
class BundleHead:
    """What a bundle's header says: the commits the receiver must hold, and the tip it brings."""

    prerequisites: tuple[str, ...]
    tip: str
    ref: str


def create_bundle(root: Path, tip: str, exclude: Sequence[str] = (), ref: str = TIP_REF) -> bytes:
    """The objects reachable from commit `tip` but not from `exclude`, naming `tip` as `ref`; b"" when
    there are none (`tip` is in what `exclude` reaches)."""
    revs = "".join(f"{line}\n" for line in [tip, *(f"^{sha}" for sha in exclude)])
    pack = git_bytes(
        root, "pack-objects", "--stdout", "--revs", "--quiet", "--delta-base-offset", stdin=revs.encode()
    )
    if _objects(pack) == 0:
        return b""
    header = "".join(f"-{sha}\n" for sha in exclude) + f"{tip} {ref}\n\n"
    return _SIGNATURE + header.encode() + pack


def read_head(data: bytes) -> BundleHead:
    """The header of a bundle made by `create_bundle`; `GitError` when it is not one."""
    return _split(data)[0]


def _split(data: bytes) -> tuple[BundleHead, bytes]:
    """A bundle's header, and its pack."""
    end = data.find(b"\n\n")
    if not data.startswith(_SIGNATURE) or end < 0:
        raise GitError(["bundle"], 1, "not a v2 git bundle")
    lines = data[len(_SIGNATURE) : end].decode("ascii", errors="replace").splitlines()
    prerequisites = tuple(line[1:].split(" ", 1)[0] for line in lines if line.startswith("-"))
    tips = [line.split(" ", 1) for line in lines if not line.startswith("-")]
    if len(tips) != 1 or len(tips[0]) != 2:
        raise GitError(["bundle"], 1, "a bundle here names exactly one ref")
    return BundleHead(prerequisites, tips[0][0], tips[0][1]), data[end + 2 :]


def store_bundle(root: Path, data: bytes, *, strict: bool = False) -> str:
    """Store a bundle's objects in the repository at `root`: its tip. `strict` checks every object and
    that everything it points to is there (for what comes from a node)."""
    head, pack = _split(data)
    checks = ("--strict",) if strict else ()
    if _objects(pack) > UNPACK_LIMIT:
        git_bytes(root, "index-pack", "--stdin", *checks, stdin=pack)
    else:
        git_bytes(root, "unpack-objects", "-q", *checks, stdin=pack)
    return head.tip


def _objects(pack: bytes) -> int:
    """The number of objects a pack says it holds (its header: PACK, version, count)."""
    if len(pack) < 12 or pack[:4] != b"PACK":
        raise GitError(["pack-objects"], 1, "git wrote no pack")
    count: int = struct.unpack(">I", pack[8:12])[0]
    return count


def has_commit(root: Path, sha: str) -> bool:
    """Whether the repository (or an alternate of it) holds commit `sha`."""
    return git(root, "cat-file", "-e", f"{sha}^{{commit}}", ok=(0, 1, 128)).code == 0


def set_ref(root: Path, ref: str, sha: str) -> None:
    git(root, *NO_REFLOG, "update-ref", ref, sha)


def delete_ref(root: Path, ref: str) -> None:
    git(root, *NO_REFLOG, "update-ref", "-d", ref, ok=(0, 1))
