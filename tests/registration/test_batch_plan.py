"""`plan_batch` decides a batch without a pool or a database: new, exact duplicate (of a registered
image or of an earlier file in the batch), the same file again, failures, sidecar merges."""

from __future__ import annotations

from lorairo.registration.decode import Decoded, Known
from lorairo.registration.duplicates import REMOVED_MEANWHILE, Duplicate, plan_batch
from lorairo.registration.sidecars import Sidecar
from lorairo.storage.render import Rejected


def decoded(path: str, sha: str, tags: tuple[str, ...] = ()) -> Decoded:
    return Decoded(
        path=path,
        sha256=sha,
        phash=0,
        width=64,
        height=64,
        format="PNG",
        mode="RGB",
        has_alpha=False,
        file_size=10,
        staged_original=f"/staging/{sha}.png",
        staged_thumbnail=f"/staging/{sha}.webp",
        processed=(),
        sidecar=Sidecar(tags=tags),
    )


def test_each_outcome_gets_exactly_one_decision() -> None:
    batch = [
        decoded("/a/new.png", "n1", ("cat",)),
        decoded("/a/copy_of_new.png", "n1", ("dog",)),
        decoded("/a/again.png", "k1"),
        Known("/b/elsewhere.png", "k1", Sidecar(tags=("bird",))),
        Known("/a/gone.png", "g1", Sidecar()),
        Rejected("/a/broken.jpg", "truncated image", "unexpected end of file"),
    ]
    plan = plan_batch(batch, {"k1": "/a/again.png"})

    assert [item.path for item in plan.new] == ["/a/new.png"]
    assert plan.skipped_existing == 1
    assert plan.duplicates == [
        Duplicate("/a/copy_of_new.png", "n1", "/a/new.png"),
        Duplicate("/b/elsewhere.png", "k1", "/a/again.png"),
    ]
    assert [(f.path, f.reason) for f in plan.failures] == [
        ("/a/gone.png", REMOVED_MEANWHILE),
        ("/a/broken.jpg", "truncated image"),
    ]
    # Every sidecar lands on the image its bytes belong to, in batch order.
    assert [(sha, sidecar.tags) for sha, sidecar in plan.merges] == [
        ("n1", ("cat",)),
        ("n1", ("dog",)),
        ("k1", ()),
        ("k1", ("bird",)),
    ]
    # Decoded files that are not placed have their staged copies dropped; the placed one keeps them.
    assert [item.path for item in plan.unused] == ["/a/copy_of_new.png", "/a/again.png"]
    assert plan.seen_paths == [item.path for item in batch]


def test_an_empty_batch_plans_nothing() -> None:
    plan = plan_batch([], {})
    assert (plan.new, plan.duplicates, plan.failures, plan.merges, plan.skipped_existing) == (
        [],
        [],
        [],
        [],
        0,
    )
