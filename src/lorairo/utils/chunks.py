"""Splitting work into bounded pieces: IN (...) lists under SQLite's bound-parameter limit, batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items, in order; reads `items` lazily."""
    if size < 1:
        raise ValueError(f"chunk size must be positive, got {size}")
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
