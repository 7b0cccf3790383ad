"""Who a commit is by: identities are always passed explicitly, never read from the person's config."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    """A git author or committer."""

    name: str
    email: str


SHIPYARD = Identity("Shipyard", "shipyard@localhost")


def identity_env(author: Identity, committer: Identity) -> dict[str, str]:
    """The environment variables that make git use these identities."""
    return {
        "GIT_AUTHOR_NAME": author.name,
        "GIT_AUTHOR_EMAIL": author.email,
        "GIT_COMMITTER_NAME": committer.name,
        "GIT_COMMITTER_EMAIL": committer.email,
    }
