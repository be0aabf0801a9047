"""What one committed batch does, decided without a pool or a database: `plan_batch` turns the
workers' outcomes and the SHA-256s already registered into a `BatchPlan` the service only executes
(place files, insert rows, import sidecars, record rejections)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lorairo.registration.decode import Decoded, DecodeOutcome, Known, Rejected
from lorairo.registration.duplicates import SKIPPED_EXISTING, exact_verdict
from lorairo.registration.sidecars import Sidecar

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
