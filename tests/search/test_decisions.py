"""Tag decisions (`tag_decisions`) against everything that rewrites model rows: a model's rows
deleted and written again, a re-threshold, a manual add of a rejected tag; undo stays exact."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, select

from image_annotator_lib.core.types import TagPrediction
from lorairo.database.annotation_repository import save_model_tags
from lorairo.database.schema import Model, Tag, TagDecision
from lorairo.services.annotation_store import AnnotationStore
from lorairo.services.edit_service import EditService, EditTarget
from lorairo.services.project_service import Project
from lorairo.services.search_service import SearchService
from tests.search.helpers import new_project, snapshot

# Every test here runs on each selected store engine (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("store_engine")

PREDICTIONS = [
    TagPrediction("a", 0.9),
    TagPrediction("b", 0.8),
    TagPrediction("c", 0.5),
    TagPrediction("d", 0.3, accepted=False),
]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Project, int, int]:
    project, ids = new_project(tmp_path, count=1)
    with project.database.write_session() as session:
        model = Model(name="tagger", type="tagger")
        session.add(model)
        session.flush()
        save_model_tags(session, model.id, [(ids[0], PREDICTIONS)])
    return project, ids[0], model.id


def _shown(project: Project, image_id: int) -> list[str]:
    return SearchService(project).summaries([image_id])[0].tags


def test_decisions_outlive_the_deletion_of_a_models_rows(project: tuple[Project, int, int]) -> None:
    opened, image_id, model_id = project
    service = EditService(opened)
    target = EditTarget(ids=(image_id,))
    service.reject_tags(target, ["a"], apply=True)
    service.remove_tags(target, ["b"], apply=True)
    service.reorder_tags(image_id, ["c", "a"], apply=True)
    assert _shown(opened, image_id) == ["c"]
    with opened.database.write_session() as session:  # the model and all its rows go
        session.execute(delete(Tag).where(Tag.model_id == model_id))
        session.execute(delete(Model).where(Model.id == model_id))
    assert _shown(opened, image_id) == []
    with opened.database.read_session() as session:
        assert len(list(session.scalars(select(TagDecision)))) == 3
    with opened.database.write_session() as session:  # annotated again, by a new model row
        model = Model(name="tagger", type="tagger")
        session.add(model)
        session.flush()
        save_model_tags(session, model.id, [(image_id, PREDICTIONS)])
    assert _shown(opened, image_id) == ["c"]
    assert SearchService(opened).search("rejected:a").ids == [image_id]
    service.undo()  # the reorder
    service.undo()  # the removal
    assert _shown(opened, image_id) == ["b", "c"]
    service.undo()  # the rejection
    assert _shown(opened, image_id) == ["a", "b", "c"]


def test_rethreshold_cannot_bring_back_a_removed_tag(project: tuple[Project, int, int]) -> None:
    opened, image_id, _model_id = project
    EditService(opened).remove_tags(EditTarget(ids=(image_id,)), ["c"], apply=True)
    AnnotationStore(opened.database).rethreshold("tagger", general=0.1, character=None)
    assert _shown(opened, image_id) == ["a", "b", "d"], "d passes the lower threshold; c stays removed"


def test_adding_a_rejected_tag_lifts_the_rejection_and_undo_puts_it_back(
    project: tuple[Project, int, int],
) -> None:
    opened, image_id, _model_id = project
    service = EditService(opened)
    service.reject_tags(EditTarget(ids=(image_id,)), ["b"], apply=True)
    rejected = snapshot(opened)
    service.add_tags(EditTarget(ids=(image_id,)), ["b"], apply=True)
    assert "b" in _shown(opened, image_id)
    service.undo()
    assert snapshot(opened) == rejected
    assert "b" not in _shown(opened, image_id)
