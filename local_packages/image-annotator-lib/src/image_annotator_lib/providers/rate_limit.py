"""A client-side requests-per-minute limiter per provider, shared by every thread and model.

Two models of one provider share its quota, so limiters are looked up by provider name rather
than owned by an annotator instance.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Token bucket: up to `burst` requests at once, then `requests_per_minute` evenly spaced."""

    def __init__(
        self,
        requests_per_minute: int,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests_per_minute < 1:
            raise ValueError("requests_per_minute must be at least 1")
        self.requests_per_minute = requests_per_minute
        self.capacity = float(burst if burst is not None else max(1, requests_per_minute // 12))
        self._rate = requests_per_minute / 60.0
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        """Take a token now or reserve the next one; return how long the caller must wait."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    def acquire(self) -> float:
        """Block until a request may be sent; return the seconds waited."""
        wait = self._reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


_limiters: dict[str, RateLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(provider: str, requests_per_minute: int) -> RateLimiter:
    """The process-wide limiter of a provider, replaced when its configured rate changes."""
    with _registry_lock:
        limiter = _limiters.get(provider)
        if limiter is None or limiter.requests_per_minute != requests_per_minute:
            limiter = RateLimiter(requests_per_minute)
            _limiters[provider] = limiter
        return limiter
