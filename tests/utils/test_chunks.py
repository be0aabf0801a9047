"""`chunked`: the one helper that splits IN-lists and batches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lorairo.utils.chunks import chunked


@given(st.lists(st.integers()), st.integers(min_value=1, max_value=50))
def test_chunks_keep_order_and_bound_their_size(items: list[int], size: int) -> None:
    chunks = list(chunked(items, size))
    assert [item for chunk in chunks for item in chunk] == items
    assert all(1 <= len(chunk) <= size for chunk in chunks)
    assert all(len(chunk) == size for chunk in chunks[:-1])


def test_reads_a_generator_lazily() -> None:
    pulled: list[int] = []

    def numbers() -> Iterator[int]:
        for n in range(10):
            pulled.append(n)
            yield n

    first = next(chunked(numbers(), 3))
    assert (first, pulled) == ([0, 1, 2], [0, 1, 2])


def test_a_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        next(chunked([1], 0))
