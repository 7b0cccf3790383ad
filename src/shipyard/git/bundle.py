"""Git bundles: how commits travel between the head's repository and a cluster node's clone (no shared
file system, no push rights: each side fetches what the other sent)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from shipyard.git.run import NO_REFLOG, git


def create_bundle(root: Path, ref: str, exclude: Sequence[str] = ()) -> bytes:
    """The objects reachable from `ref` but not from any of `exclude`, with `ref` named, as bytes."""
    with tempfile.TemporaryDirectory(prefix="shipyard-bundle-") as scratch:
        path = Path(scratch) / "out.bundle"
        git(root, "bundle", "create", "--quiet", str(path), ref, *(f"^{sha}" for sha in exclude))
        return path.read_bytes()


def fetch_bundle(root: Path, data: bytes, refspecs: Sequence[str]) -> None:
    """Fetch `refspecs` (`src:dst`, forced) from a bundle made by `create_bundle` into `root`."""
    with tempfile.TemporaryDirectory(prefix="shipyard-bundle-") as scratch:
        path = Path(scratch) / "in.bundle"
        path.write_bytes(data)
        specs = [spec if spec.startswith("+") else f"+{spec}" for spec in refspecs]
        git(root, *NO_REFLOG, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", str(path), *specs)


def has_commit(root: Path, sha: str) -> bool:
    """Whether the repository (or an alternate of it) holds commit `sha`."""
    return git(root, "cat-file", "-e", f"{sha}^{{commit}}", ok=(0, 1, 128)).code == 0


def set_ref(root: Path, ref: str, sha: str) -> None:
    git(root, *NO_REFLOG, "update-ref", ref, sha)


def delete_ref(root: Path, ref: str) -> None:
    git(root, *NO_REFLOG, "update-ref", "-d", ref, ok=(0, 1))
