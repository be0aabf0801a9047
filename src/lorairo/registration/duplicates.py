"""Where duplicates are decided: exact (same SHA-256) and near (pHash within a Hamming distance).

`plan_batch` decides what one committed batch does, without a pool or a database: each worker
outcome is new, the same file again, an exact duplicate (of a registered image or of an earlier
file in the batch) or a failure, and every sidecar goes to the image its bytes belong to. The
service only executes the plan (place files, insert rows, import sidecars, record rejections).

Near-duplicate search uses multi-index hashing: the 64-bit hash is split into four 16-bit bands.
If two hashes differ in at most `t` bits, at least one band differs in at most `t // 4` bits
(pigeonhole), so probing each band's table with every value within that radius finds all
candidates, which are then checked exactly. At 100k images a probe touches a few hundred entries
instead of scanning every hash.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from lorairo.registration.decode import Decoded, DecodeOutcome, Known
from lorairo.registration.sidecars import Sidecar
from lorairo.storage.imaging import to_unsigned64
from lorairo.storage.render import Rejected

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


REMOVED_MEANWHILE = "removed during registration"


@dataclass(frozen=True)
class Duplicate:
    """A file whose bytes are already an image: a registered one, or a new one earlier in the batch."""

    path: str
    sha256: str
    duplicate_of_path: str


@dataclass
class BatchPlan:
    new: list[Decoded] = field(default_factory=list)  # first file of each SHA not yet registered
    duplicates: list[Duplicate] = field(default_factory=list)
    skipped_existing: int = 0  # the same file again (same path, same bytes)
    merges: list[tuple[str, Sidecar]] = field(default_factory=list)  # (sha256, sidecar), batch order
    failures: list[Rejected] = field(default_factory=list)
    unused: list[Decoded] = field(default_factory=list)  # decoded, but its staged files are not needed
    seen_paths: list[str] = field(default_factory=list)  # whose earlier rejections this batch replaces


def plan_batch(outcomes: Sequence[DecodeOutcome], known: Mapping[str, str]) -> BatchPlan:
    """`known` maps each registered SHA-256 among `outcomes` to the path it was registered from."""
    plan = BatchPlan(seen_paths=[item.path for item in outcomes])
    first_in_batch: dict[str, Decoded] = {}
    for item in outcomes:
        if isinstance(item, Rejected):
            plan.failures.append(item)
            continue
        registered_from = known.get(item.sha256)
        if registered_from is not None:
            if exact_verdict(item.path, registered_from) == SKIPPED_EXISTING:
                plan.skipped_existing += 1
            else:
                plan.duplicates.append(Duplicate(item.path, item.sha256, registered_from))
        elif isinstance(item, Known):
            # The worker saw it registered; it was deleted before this batch committed.
            plan.failures.append(
                Rejected(item.path, REMOVED_MEANWHILE, "its image was deleted mid-run; run again")
            )
            continue
        elif item.sha256 in first_in_batch:
            plan.duplicates.append(Duplicate(item.path, item.sha256, first_in_batch[item.sha256].path))
        else:
            first_in_batch[item.sha256] = item
            plan.new.append(item)
        plan.merges.append((item.sha256, item.sidecar))
        if isinstance(item, Decoded) and first_in_batch.get(item.sha256) is not item:
            plan.unused.append(item)
    return plan
