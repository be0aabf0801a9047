from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from lorairo.registration.duplicates import MAX_LINKS, HammingIndex, group_links
from lorairo.storage.imaging import to_signed64


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), threshold=st.integers(0, 12))
def test_index_finds_exactly_what_a_brute_force_scan_finds(seed: int, threshold: int) -> None:
    rng = random.Random(seed)
    base = [rng.getrandbits(64) for _ in range(40)]
    hashes = []
    for value in base:  # each base hash plus a few close variants, so matches exist
        hashes.append(value)
        for _ in range(3):
            flipped = value
            for bit in rng.sample(range(64), rng.randint(0, threshold + 2)):
                flipped ^= 1 << bit
            hashes.append(flipped)
    index = HammingIndex(threshold)
    index.extend((image_id, to_signed64(value)) for image_id, value in enumerate(hashes))
    for query in hashes[:: max(1, len(hashes) // 25)]:
        expected = sorted(
            ((value ^ query).bit_count(), image_id)
            for image_id, value in enumerate(hashes)
            if (value ^ query).bit_count() <= threshold
        )[:MAX_LINKS]
        found = [(match.distance, match.image_id) for match in index.query(to_signed64(query))]
        assert found == expected


def test_group_links_forms_connected_components() -> None:
    assert group_links([(5, 1), (7, 5), (9, 8)]) == [[1, 5, 7], [8, 9]]
    assert group_links([]) == []
