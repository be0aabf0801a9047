"""The service contract for long operations: progress reporting and cooperative cancellation.

Services never import Qt or Rich; the CLI adapts `ProgressCallback` to a Rich bar and the GUI to a
Qt signal. A `CancelToken` is thread-safe, so the GUI thread may cancel a worker at any time.
"""

from __future__ import annotations

import threading
from typing import Protocol

from lorairo.errors import OperationCancelled


class ProgressCallback(Protocol):
    """Called with items done, items in total (None while still unknown) and a short message."""

    def __call__(self, done: int, total: int | None, message: str = "") -> None: ...


def no_progress(done: int, total: int | None, message: str = "") -> None:
    """Default callback for callers that do not display progress."""


class CancelToken:
    """A thread-safe flag a caller sets to ask an operation to stop at its next safe point."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking at once when cancelled; True if cancelled."""
        return self._event.wait(seconds)

    def raise_if_cancelled(self) -> None:
        """Stop between batches; everything committed before this point stays committed."""
        if self._event.is_set():
            raise OperationCancelled("operation cancelled")
