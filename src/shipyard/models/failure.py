"""Vendor failures turned into one-line `ModelError`s that name the provider, the model and the fix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shipyard.errors import ModelError

_DETAIL_CHARS = 200
# Statuses the vendors' own SDKs retry too: request timeout, lock conflict, rate limit.
_RETRYABLE_4XX = frozenset({408, 409, 429})


@dataclass(frozen=True)
class Endpoint:
    """Where a call went: used only to word errors."""

    provider: str
    model_id: str
    key_env: str
    base_url: str


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a `Retry-After` (or `retry-after-ms`) header, when the server sent one."""
    if not headers:
        return None
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        if headers.get("retry-after"):
            return float(headers["retry-after"])
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
    return None


def status_error(
    endpoint: Endpoint, status: int, detail: str, headers: Mapping[str, str] | None = None
) -> ModelError:
    """The `ModelError` for an HTTP error status; 408/409/429 and 5xx are retryable."""
    what, fix = _status_words(endpoint, status)
    retryable = status in _RETRYABLE_4XX or status >= 500
    note = _one_line(detail)
    text = f"{endpoint.provider}: {what} ({status}) for model `{endpoint.model_id}`"
    if fix:
        text += f" — {fix}"
    if note and not retryable:
        text += f" [{note}]"
    return ModelError(text, retryable=retryable, retry_after_s=retry_after(headers) if retryable else None)


def timeout_error(endpoint: Endpoint, why: str = "") -> ModelError:
    """The `ModelError` for a request that timed out (retryable)."""
    detail = f" ({why})" if why else ""
    return ModelError(
        f"{endpoint.provider}: request timed out{detail} for model `{endpoint.model_id}` "
        f"at {endpoint.base_url}"
        " — retry later, or raise `timeout_s` for this provider in shipyard.toml",
        retryable=True,
    )


def connection_error(endpoint: Endpoint) -> ModelError:
    """The `ModelError` for a server that could not be reached (retryable)."""
    return ModelError(
        f"{endpoint.provider}: cannot connect to {endpoint.base_url} for model `{endpoint.model_id}`"
        " — check the network, or that the server at the base URL is running",
        retryable=True,
    )


def other_error(endpoint: Endpoint, exc: Exception) -> ModelError:
    """The `ModelError` for any other SDK failure (bad response shape, ...): not retryable."""
    return ModelError(
        f"{endpoint.provider}: call to model `{endpoint.model_id}` failed: "
        f"{type(exc).__name__}: {_one_line(str(exc))}",
        retryable=False,
    )


def _status_words(endpoint: Endpoint, status: int) -> tuple[str, str]:
    key = endpoint.key_env
    words = {
        400: ("bad request", ""),
        401: ("authentication failed", f"check {key}"),
        402: ("payment required", "check the billing of the account behind " + key),
        403: ("permission denied", f"check that the key in {key} may use this model"),
        404: ("not found", f"check the model name and the base URL {endpoint.base_url}"),
        408: ("request timed out", "retry later"),
        409: ("conflict", "retry later"),
        413: ("request too large", "the conversation is too long for this model"),
        422: ("unprocessable request", ""),
        429: ("rate limited", "retry later, or lower the number of agents using this model"),
    }
    if status in words:
        return words[status]
    if status >= 500:
        return "server error", "retry later"
    return "request refused", ""


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _DETAIL_CHARS else flat[: _DETAIL_CHARS - 1] + "…"
