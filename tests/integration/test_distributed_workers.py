"""Distributed annotation survives a worker killed mid-batch: every image annotated exactly once.

Three `lorairo worker` processes share a 2,000-image project's queue. One is slowed (its decodes
sleep) and SIGKILLed while it holds a batch; the other two take that batch once its lease lapses.
Witnesses outside the code under test: an audit hook in each worker logs every image file it
opens, and the tiny tagger's output, computed here in-process, says which tags each image must
have. The worker's lease is short (`--lease`) so the test waits seconds, not minutes.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image as PILImage
from sqlalchemy import func, select

from image_annotator_lib.core.types import AnnotationResult
from image_annotator_lib.local.session_cache import default_session_cache
from lorairo.annotations.ai_annotator import build_registry, load_annotator
from lorairo.cli.main import main
from lorairo.database.claim_repository import CLAIMED
from lorairo.database.schema import AnnotationFailure, Image, ModelAnnotation, Tag, WorkItem, WorkItemImage
from lorairo.services.annotation_service import AnnotationService
from lorairo.services.configuration_service import ConfigurationService
from tests.integration.worker_farm import MODEL, make_farm, start_worker

IMAGES = 2000
BATCH = 25
LEASE = 3.0


def _expected_tags(
    project_root: Path, config: ConfigurationService, refs: list[tuple[int, str]]
) -> dict[int, set[str]]:
    """What the tagger says about each image, run here without the queue or the store."""
    annotator = load_annotator(build_registry(config), MODEL)  # type: ignore[arg-type]
    expected: dict[int, set[str]] = {}
    for start in range(0, len(refs), 200):
        chunk = refs[start : start + 200]
        images = []
        for _, path in chunk:
            with PILImage.open(project_root / path) as image:
                image.load()
                images.append(image.copy())
        results: list[AnnotationResult] = annotator.annotate_batch(images)
        for (image_id, _), result in zip(chunk, results, strict=True):
            expected[image_id] = {tag.name for tag in result.tags}
    return expected


@pytest.mark.slow
def test_a_killed_worker_loses_its_batch_and_every_image_is_annotated_once(
    tmp_path: Path, store_engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config, project = make_farm(tmp_path, "farm", IMAGES)
    main(["--json", "annotate", "run", "--distributed", "--detach", "-p", "farm", "-m", MODEL,
          "--batch-size", str(BATCH)])  # fmt: skip
    queued = json.loads(capsys.readouterr().out)
    assert queued["images_queued"] == IMAGES

    common = ("--batch", str(BATCH), "--lease", str(LEASE), "--until-empty", "--poll", "0.2")
    victim, victim_log = start_worker(tmp_path, project, "victim", *common, delay=0.05)
    survivors = [start_worker(tmp_path, project, f"w{n}", *common) for n in range(2)]

    # Kill the victim while it holds a batch it has not stored.
    held: list[int] = []
    deadline = time.monotonic() + 120
    while not held and time.monotonic() < deadline:
        with project.database.read_session() as session:
            held = list(
                session.scalars(
                    select(WorkItem.id).where(
                        WorkItem.state == CLAIMED, WorkItem.owner.like(f"%:{victim.pid}:%")
                    )
                )
            )
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    killed_at = time.time()
    victim.wait(timeout=30)
    with project.database.read_session() as session:
        in_hand = list(
            session.scalars(
                select(WorkItem.id).where(WorkItem.state == CLAIMED, WorkItem.owner.like(f"%:{victim.pid}:%"))
            )
        )
        in_hand_images = set(
            session.scalars(select(WorkItemImage.image_id).where(WorkItemImage.work_item_id.in_(in_hand)))
        )
    assert in_hand, "the victim was not killed mid-batch"

    reports = []
    for child, _ in survivors:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        reports.append(json.loads(out))

    with project.database.read_session() as session:
        refs = [(row[0], row[1]) for row in session.execute(select(Image.id, Image.stored_path))]
        markers = Counter(session.scalars(select(ModelAnnotation.image_id)))
        tags: dict[int, list[str]] = {}
        for image_id, tag in session.execute(select(Tag.image_id, Tag.raw_tag)):
            tags.setdefault(image_id, []).append(tag)
        failures = session.scalar(select(func.count()).select_from(AnnotationFailure))
        retaken = session.execute(
            select(WorkItem.state, WorkItem.owner, WorkItem.attempts, WorkItem.finished_at).where(
                WorkItem.id.in_(in_hand)
            )
        ).all()
        open_items = session.scalar(
            select(func.count()).select_from(WorkItem).where(WorkItem.state != "done")
        )
        victim_done = session.scalar(
            select(func.coalesce(func.sum(WorkItem.size), 0)).where(WorkItem.owner.like(f"%:{victim.pid}:%"))
        )

    # Exactly once: one marker per image, and each image's tags are the tagger's, none twice.
    assert len(markers) == IMAGES and set(markers.values()) == {1}
    assert failures == 0 and open_items == 0
    expected = _expected_tags(project.root, config, refs)
    for image_id, _ in refs:
        assert sorted(tags.get(image_id, [])) == sorted(expected[image_id]), image_id

    # The killed batch was taken by a survivor, and only after its lease lapsed.
    for state, owner, attempts, finished_at in retaken:
        assert state == "done" and f":{victim.pid}:" not in owner and attempts >= 2
        assert finished_at >= killed_at
    assert sum(r["images_annotated"] for r in reports) == IMAGES - victim_done

    # Only the killed batch's images were decoded by two workers.
    opened = [Counter(log.read_text().split()) for log in [victim_log] + [log for _, log in survivors]]
    assert len(sum(opened, Counter())) == IMAGES
    names = dict(refs)
    twice = {name for name in set(opened[0]) if any(name in other for other in opened[1:])}
    assert twice <= {Path(names[i]).name for i in in_hand_images}
    project.close()


def test_distributed_run_follows_a_live_worker_and_workers_lists_it(
    tmp_path: Path, store_engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, project = make_farm(tmp_path, "small", 60)
    worker, _ = start_worker(tmp_path, project, "live", "--batch", "8", "--poll", "0.1", "--lease", "30")
    main(["--json", "annotate", "run", "--distributed", "-p", "small", "-m", MODEL, "--batch-size", "8"])
    run = json.loads(capsys.readouterr().out)
    assert run["images_queued"] == 60
    assert run["progress"]["images_done"] == run["progress"]["images_total"] == 60

    with project.database.read_session() as session:  # a job followed to its end leaves no items
        assert session.scalar(select(func.count()).select_from(WorkItem)) == 0
    main(["--json", "workers", "-p", "small", "--lease", "30"])
    (listed,) = json.loads(capsys.readouterr().out)["workers"]
    assert f":{worker.pid}:" in listed["id"] and listed["model_name"] == MODEL
    assert listed["images_done"] == 60 and listed["batches_done"] == 8

    worker.send_signal(signal.SIGTERM)  # a clean stop: the worker reports and leaves the list
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert json.loads(out)["images_annotated"] == 60
    main(["--json", "workers", "-p", "small"])
    assert json.loads(capsys.readouterr().out)["workers"] == []
    project.close()


def test_distributed_refuses_options_workers_do_not_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, project = make_farm(tmp_path, "opts", 3)
    project.close()
    for extra in (["--dry-run"], ["--style", "booru-tags"], ["--retry-violations"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["--json", "annotate", "run", "--distributed", "-p", "opts", "-m", MODEL, *extra])
        assert exit_info.value.code == 2
        assert "--distributed" in json.loads(capsys.readouterr().out)["error"]["message"]


def test_worker_threads_give_it_its_share_of_the_cores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`worker --threads 1`: its model session runs one intra-op thread (k workers on one machine
    each take cores/k rather than all of them), and it still annotates everything."""
    config, project = make_farm(tmp_path, "share", 20)
    AnnotationService(project, config).enqueue([MODEL], "all", 8)
    project.close()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    main(["--json", "worker", "-p", "share", "-m", MODEL, "--threads", "1", "--until-empty"])
    assert json.loads(capsys.readouterr().out)["images_annotated"] == 20
    # its Ctrl-C handler leaves with it (a stale one broke the next in-process command's Ctrl-C)
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers
    model = tmp_path / "models" / "colour" / "model.onnx"
    cached = len(default_session_cache)
    session = default_session_cache.get(model, "auto", 1)
    assert len(default_session_cache) == cached  # the worker built this one
    assert session.get_session_options().intra_op_num_threads == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["--json", "worker", "-p", "share", "-m", MODEL, "--threads", "-1", "--until-empty"])
    assert exit_info.value.code == 2
