"""Reordering one image's tags: the dry run predicts the apply, search details show the new order,
undo restores every position exactly and redo puts the order back. The order is a decision
(`tag_decisions.position`), so it is not stored on the model's rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from lorairo.database.schema import Model, Tag
from lorairo.errors import ValidationError
from lorairo.services.edit_service import EditService
from lorairo.services.project_service import Project
from lorairo.services.search_service import SearchService
from tests.search.helpers import new_project, snapshot

# Every test here runs on each selected store engine (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("store_engine")


@pytest.fixture
def project(tmp_path: Path) -> tuple[Project, list[int]]:
    """Image 1: model tags a, b, c (c also given by a second row), a below-threshold d, manual e."""
    project, ids = new_project(tmp_path, count=2)
    with project.database.write_session() as session:
        model = Model(name="wd-tagger", type="tagger")
        session.add(model)
        session.flush()
        for position, tag in enumerate(["a", "b", "c", "d"]):
            session.add(Tag(image_id=ids[0], model_id=model.id, tag=tag, raw_tag=tag, position=position))
        session.add(Tag(image_id=ids[0], tag="c", source="manual", position=2))
        session.add(Tag(image_id=ids[0], tag="e", source="manual", position=7))
        session.add(Tag(image_id=ids[1], tag="a", source="manual", position=0))
        session.execute(Tag.__table__.update().where(Tag.tag == "d").values(is_accepted=False))
    return project, ids


def _order(project: Project, image_id: int) -> list[tuple[str, int]]:
    rows = SearchService(project).details([image_id])[0]["tags"]
    return [(row["tag"], row["position"]) for row in rows]


def test_dry_run_predicts_apply_then_undo_and_redo(project: tuple[Project, list[int]]) -> None:
    proj, ids = project
    service = EditService(proj)
    before = snapshot(proj)

    dry = service.reorder_tags(ids[0], ["e", "c", "a", "b"])
    assert not dry.applied and snapshot(proj) == before

    report = service.reorder_tags(ids[0], ["e", "c", "a", "b"], apply=True)
    assert report.applied and report.edit_id is not None
    assert (dry.images_changed, dry.rows_updated, dry.samples) == (
        report.images_changed,
        report.rows_updated,
        report.samples,
    )
    assert [tag for tag, _ in _order(proj, ids[0])] == ["e", "c", "c", "a", "b", "d"]
    assert _order(proj, ids[1]) == [("a", 0)]
    after = snapshot(proj)

    service.undo()
    assert snapshot(proj) == before
    assert [tag for tag, _ in _order(proj, ids[0])] == ["a", "b", "c", "c", "d", "e"]
    service.redo()
    assert snapshot(proj) == after


def test_unchanged_order_writes_nothing_and_unknown_tags_are_refused(
    project: tuple[Project, list[int]],
) -> None:
    proj, ids = project
    service = EditService(proj)
    before = snapshot(proj)
    with pytest.raises(ValidationError, match="no tag zzz"):
        service.reorder_tags(ids[0], ["a", "zzz"], apply=True)
    with pytest.raises(ValidationError):
        service.reorder_tags(ids[0], [], apply=True)
    assert snapshot(proj) == before and service.log() == []
    first = service.reorder_tags(ids[1], ["a"], apply=True)
    assert first.images_changed == 1, "ordering by hand is a decision even when nothing moves"
    decided = snapshot(proj)
    report = service.reorder_tags(ids[1], ["a"], apply=True)
    assert report.images_changed == 0 and report.edit_id is None
    assert snapshot(proj) == decided and len(service.log()) == 1
