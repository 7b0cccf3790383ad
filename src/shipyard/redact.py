"""Redaction of secrets before anything is stored or shown: values of secret-looking environment
variables, and strings shaped like API keys, tokens, private keys and credentials in URLs."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "[REDACTED]"
MIN_SECRET_LEN = 8
_MIN_EDGE = 4  # a secret cut by truncation leaks at most this many characters

_SECRET_NAME = re.compile(
    r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|AUTH|PRIVATE|SESSION|COOKIE|SIGNATURE"
    r"|_DSN$|DATABASE_URL)",
    re.IGNORECASE,
)
# Variables whose names match the pattern above but whose values are not secrets.
_NOT_SECRET = frozenset({"SSH_AUTH_SOCK", "XAUTHORITY", "GPG_AGENT_INFO", "KEYTIMEOUT"})

_KEY_SHAPES = re.compile(
    "|".join(
        (
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            r"(?<![A-Za-z0-9_\-])sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}",
            r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",
            r"\bgh[pousr]_[A-Za-z0-9]{20,}",
            r"\bgithub_pat_[A-Za-z0-9_]{22,}",
            r"\bglpat-[A-Za-z0-9_\-]{20,}",
            r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
            r"\bAIza[0-9A-Za-z_\-]{35}",
            r"\bhf_[A-Za-z0-9]{30,}",
            r"\bnpm_[A-Za-z0-9]{36}\b",
            r"\bpypi-[A-Za-z0-9_\-]{50,}",
            r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
        )
    )
)
# `scheme://user:password@host`: only the password is masked, so the URL stays readable.
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]+:)([^\s@/]{3,})(@)")
_BEARER = re.compile(r"(\b(?:Bearer|Basic)\s+)([A-Za-z0-9_\-.=+/]{20,})", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name says its value is a secret."""
    return name not in _NOT_SECRET and _SECRET_NAME.search(name) is not None


def secret_values(environ: Mapping[str, str] | None = None, names: Iterable[str] = ()) -> tuple[str, ...]:
    """Values of secret-looking variables (and of the variables in `names`), longest first."""
    env = os.environ if environ is None else environ
    wanted = set(names)
    values = {
        value.strip()
        for key, value in env.items()
        if (key in wanted or is_secret_name(key)) and len(value.strip()) >= MIN_SECRET_LEN
    }
    return tuple(sorted(values, key=len, reverse=True))


_MEMO_MIN_CHARS = 1_000  # shorter texts are redacted every time: a lookup would not pay
_MEMO_ENTRIES = 64


class Redactor:
    """Replaces known secret values and key-shaped strings with a mask; idempotent and cheap.

    Long texts that come back again and again (every agent's system prompt) are redacted once.
    """

    def __init__(self, secrets: Iterable[str] | None = None) -> None:
        found = secret_values() if secrets is None else secrets
        self._secrets = tuple(sorted({s for s in found if len(s) >= MIN_SECRET_LEN}, key=len, reverse=True))
        pattern = "|".join(re.escape(s) for s in self._secrets)
        self._literal = re.compile(pattern) if pattern else None
        self._seen: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        if len(text) < _MEMO_MIN_CHARS:
            return self._redact(text)
        done = self._seen.get(text)
        if done is None:
            if len(self._seen) >= _MEMO_ENTRIES:
                self._seen.clear()
            done = self._seen[text] = self._redact(text)
        return done

    def _redact(self, text: str) -> str:
        if self._literal is not None:
            text = self._literal.sub(MASK, text)
        text = _KEY_SHAPES.sub(MASK, text)
        text = _URL_PASSWORD.sub(rf"\1{MASK}\3", text)
        return _BEARER.sub(rf"\1{MASK}", text)

    def cut(self, head: str, tail: str) -> tuple[str, str]:
        """Redact both sides of a cut, masking a secret's start left at the end of `head` or its end at
        the start of `tail` (output truncated in the middle of a secret)."""
        head, tail = self(head), self(tail)
        for secret in self._secrets:
            for size in range(len(secret) - 1, _MIN_EDGE - 1, -1):
                if head.endswith(secret[:size]):
                    head = head[:-size] + MASK
                    break
            for size in range(len(secret) - 1, _MIN_EDGE - 1, -1):
                if tail.startswith(secret[-size:]):
                    tail = MASK + tail[size:]
                    break
        return head, tail


def redact_data(value: Any, redact: Redactor) -> Any:
    """`value` with every string in it (in lists, tuples and dict values, at any depth) redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: redact_data(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v, redact) for v in value]
    return value
