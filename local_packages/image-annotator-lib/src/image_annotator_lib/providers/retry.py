"""Error classification and backoff shared by every provider.

Each SDK raises its own exception types; providers translate them into one `ProviderError` so
the retry loop decides the same way everywhere: 429/408/5xx/timeouts/connection errors are worth
another try (after `Retry-After` when the server gives one), 401/403 and 404 / model-not-found stop
the whole run, a content refusal is never retried, and any other 4xx is a per-image error.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

import httpx

ErrorKind = Literal[
    "auth", "model_not_found", "policy", "rate_limited", "timeout", "server_error", "malformed", "fatal"
]
RETRYABLE: frozenset[ErrorKind] = frozenset({"rate_limited", "timeout", "server_error"})
# 400/422 answers some servers give for an unknown model (vLLM, LM Studio, OpenRouter wording).
_MODEL_MISSING = re.compile(
    r"model[^.\n]{0,80}?(not found|does not exist)|model_not_found|(unknown|no such) model\b",
    re.IGNORECASE,
)
RETRY_AFTER_CAP = 300.0  # a server asking for more than five minutes is treated as five minutes

_TIMEOUT_TYPES: tuple[type[BaseException], ...] = (httpx.TimeoutException, TimeoutError)
_CONNECTION_TYPES: tuple[type[BaseException], ...] = (httpx.TransportError, ConnectionError)
try:  # google-genai talks through httpx2 when it is installed; its classes are separate
    import httpx2

    _TIMEOUT_TYPES += (httpx2.TimeoutException,)
    _CONNECTION_TYPES += (httpx2.TransportError,)
except ImportError:  # pragma: no cover - depends on the environment
    pass


@dataclass
class ProviderError(Exception):
    """One failed request, classified. `message` never contains the API key."""

    kind: ErrorKind
    message: str
    status: int | None = None
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.message

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from `retry-after-ms`, `retry-after` (seconds or an HTTP date), else None."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        value = lowered.get("retry-after")
        if value is None:
            return None
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(str(lowered["retry-after"]))
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def classify_status(status: int, message: str, retry_after: float | None = None) -> ProviderError:
    """Map an HTTP status onto what the retry loop should do with it."""
    text = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status in (401, 403):
        return ProviderError("auth", text, status)
    if status == 404 or (status in (400, 422) and _MODEL_MISSING.search(message or "")):
        return ProviderError("model_not_found", text, status)
    if status == 429:
        return ProviderError("rate_limited", text, status, retry_after)
    if status == 408:
        return ProviderError("timeout", text, status, retry_after)
    if status >= 500:
        return ProviderError("server_error", text, status, retry_after)
    return ProviderError("fatal", text, status)


def classify_transport(exc: BaseException) -> ProviderError | None:
    """Timeouts and connection failures, whichever HTTP client raised them."""
    if isinstance(exc, _TIMEOUT_TYPES):
        return ProviderError("timeout", f"request timed out ({type(exc).__name__})")
    if isinstance(exc, _CONNECTION_TYPES):
        return ProviderError("server_error", f"connection failed ({type(exc).__name__}: {exc})")
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; `attempts` counts retries after the first request."""

    attempts: int = 3
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        """Seconds before retry `retry_number` (1-based); never shorter than the server asked."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry_number - 1))
        jittered = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            return max(min(retry_after, RETRY_AFTER_CAP), jittered)
        return jittered
