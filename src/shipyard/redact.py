"""Redaction of secrets before anything is stored or shown: values of secret-looking environment
variables, and strings shaped like API keys."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

MASK = "[REDACTED]"
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.IGNORECASE)
_KEY_SHAPES = re.compile(
    r"(sk-[A-Za-z0-9_\-]{16,}|sk-ant-[A-Za-z0-9_\-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}"
    r"|xox[baprs]-[A-Za-z0-9\-]{10,})"
)
_MIN_SECRET_LEN = 8


def secret_values(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Values of environment variables whose names look secret, longest first."""
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LEN}
    return tuple(sorted(values, key=len, reverse=True))


class Redactor:
    """Replaces known secret values and key-shaped strings with a mask."""

    def __init__(self, secrets: tuple[str, ...] | None = None) -> None:
        self._secrets = secret_values() if secrets is None else secrets

    def __call__(self, text: str) -> str:
        for value in self._secrets:
            if value in text:
                text = text.replace(value, MASK)
        return _KEY_SHAPES.sub(MASK, text)
