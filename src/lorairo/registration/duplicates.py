"""Where duplicates are decided: exact (same SHA-256) and near (pHash within a Hamming distance).

Near-duplicate search uses multi-index hashing: the 64-bit hash is split into four 16-bit bands.
If two hashes differ in at most `t` bits, at least one band differs in at most `t // 4` bits
(pigeonhole), so probing each band's table with every value within that radius finds all
candidates, which are then checked exactly. At 100k images a probe touches a few hundred entries
instead of scanning every hash.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

from lorairo.registration.imaging import to_unsigned64

BANDS = 4
BAND_BITS = 16
_BAND_MASK = (1 << BAND_BITS) - 1
MAX_LINKS = 20  # closest matches kept per image; a flat-colour set would otherwise link n^2 pairs


def _neighbourhood(radius: int) -> list[int]:
    """All 16-bit masks with at most `radius` bits set (the XOR offsets to probe)."""
    masks = [0]
    for bits in range(1, min(radius, BAND_BITS) + 1):
        for positions in combinations(range(BAND_BITS), bits):
            mask = 0
            for position in positions:
                mask |= 1 << position
            masks.append(mask)
    return masks


@dataclass(frozen=True)
class Match:
    image_id: int
    distance: int


class HammingIndex:
    """In-memory pHash index for one project, filled by streaming the `images.phash` column."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self._hashes: dict[int, int] = {}
        self._tables: list[defaultdict[int, list[int]]] = [defaultdict(list) for _ in range(BANDS)]
        self._probes = _neighbourhood(threshold // BANDS)

    @staticmethod
    def _bands(value: int) -> list[int]:
        return [(value >> (band * BAND_BITS)) & _BAND_MASK for band in range(BANDS)]

    def add(self, image_id: int, phash: int) -> None:
        value = to_unsigned64(phash)
        self._hashes[image_id] = value
        for table, band in zip(self._tables, self._bands(value), strict=True):
            table[band].append(image_id)

    def extend(self, rows: Iterable[tuple[int, int]]) -> None:
        for image_id, phash in rows:
            self.add(image_id, phash)

    def query(self, phash: int) -> list[Match]:
        """Images within the threshold, closest first (ties by id), at most `MAX_LINKS`."""
        value = to_unsigned64(phash)
        seen: set[int] = set()
        matches: list[Match] = []
        for table, band in zip(self._tables, self._bands(value), strict=True):
            for probe in self._probes:
                for image_id in table.get(band ^ probe, ()):
                    if image_id in seen:
                        continue
                    seen.add(image_id)
                    distance = (self._hashes[image_id] ^ value).bit_count()
                    if distance <= self.threshold:
                        matches.append(Match(image_id, distance))
        matches.sort(key=lambda match: (match.distance, match.image_id))
        return matches[:MAX_LINKS]


def group_links(links: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Connected components of near-duplicate links: each group is what the user decides about."""
    parent: dict[int, int] = {}

    def find(item: int) -> int:
        root = parent.setdefault(item, item)
        while root != parent[root]:
            root = parent[root]
        while item != root:
            parent[item], item = root, parent[item]
        return root

    for left, right in links:
        root_left, root_right = find(left), find(right)
        if root_left != root_right:
            parent[max(root_left, root_right)] = min(root_left, root_right)
    groups: defaultdict[int, list[int]] = defaultdict(list)
    for item in parent:
        groups[find(item)].append(item)
    return sorted((sorted(members) for members in groups.values()), key=lambda members: members[0])


SKIPPED_EXISTING = "skipped_existing"
DUPLICATE = "duplicate"


def exact_verdict(path: str, registered_from: str) -> str:
    """Same bytes as a registered image: from the same source path it is a re-run of that file
    (`skipped_existing`); from another path it is an exact `duplicate`, reported to the user."""
    return SKIPPED_EXISTING if path == registered_from else DUPLICATE
