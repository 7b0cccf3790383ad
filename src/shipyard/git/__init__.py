"""The git layer: the git CLI behind typed, synchronous functions. Only this package starts git."""

from shipyard.git.identity import SHIPYARD, Identity
from shipyard.git.merge import MergeResult
from shipyard.git.repo import GitRepo, init_repo

__all__ = ["SHIPYARD", "GitRepo", "Identity", "MergeResult", "init_repo"]
