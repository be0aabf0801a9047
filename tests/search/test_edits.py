"""Bulk edits: dry run == apply, undo restores the exact previous state, redo re-applies,
and injection attempts match nothing and change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lorairo.database.schema import Caption, Model, Rating, Score, Tag, TagDecision
from lorairo.errors import OperationCancelled, ValidationError
from lorairo.services.edit_service import EditReport, EditService, EditTarget, tag_target
from lorairo.services.progress import CancelToken
from lorairo.services.project_service import Project
from lorairo.services.search_service import SearchService
from tests.search.helpers import new_project, snapshot

# Every test here runs on each selected store engine (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("store_engine")

INJECTION = "x' OR 1=1 --"


def _seed(project: Project, ids: list[int]) -> None:
    """Model and manual rows with confidences, positions, a rejected tag, captions, scores, ratings."""
    with project.database.write_session() as session:
        model = Model(name="wd-tagger", type="tagger")
        session.add(model)
        session.flush()
        vocab = ["1girl", "red hair", "long hair", "smile", "monochrome", "cat"]
        for n, image_id in enumerate(ids):
            for position, tag in enumerate(vocab[n % 3 : n % 3 + 4]):
                session.add(
                    Tag(
                        image_id=image_id,
                        model_id=model.id,
                        tag=tag,
                        raw_tag=tag.replace(" ", "_"),
                        confidence=0.3 + position / 10 + n / 100,
                        position=position,
                    )
                )
                if (n + position) % 7 == 0:
                    session.add(TagDecision(image_id=image_id, tag=tag, rejected_at=datetime(2026, 2, 1)))
            if n % 2:
                session.add(
                    Tag(image_id=image_id, tag="solo", source="manual", is_edited_manually=True, position=9)
                )
            session.add(
                Caption(image_id=image_id, model_id=model.id, caption=f"a girl with red hair number {n}")
            )
            if n % 4 == 1:
                session.add(Caption(image_id=image_id, caption=f"manual caption {n}", source="manual"))
            session.add(Score(image_id=image_id, model_id=model.id, score=n + 0.25))
            if n % 3 == 0:
                session.add(
                    Rating(image_id=image_id, rating="general", source="manual", is_edited_manually=True)
                )


@pytest.fixture
def project(tmp_path: Path) -> tuple[Project, list[int]]:
    project, ids = new_project(tmp_path)
    _seed(project, ids)
    return project, ids


Edit = Callable[[EditService, bool], EditReport]
EDITS: dict[str, Edit] = {
    "add_back": lambda s, a: s.add_tags(EditTarget(query="tag:1girl"), ["smile", "blue_eyes"], apply=a),
    "add_front_ids": lambda s, a: s.add_tags(
        EditTarget(ids=(1, 2, 3)), ["trigger word"], position="front", apply=a
    ),
    "remove": lambda s, a: s.remove_tags(tag_target(["red hair", "solo"]), ["red hair", "solo"], apply=a),
    "remove_wildcard": lambda s, a: s.remove_tags(EditTarget(query="all"), ["*_hair"], apply=a),
    "replace_exact": lambda s, a: s.replace_tag(
        tag_target(["long hair"]), "long_hair", "very long hair", apply=a
    ),
    "replace_regex": lambda s, a: s.replace_tag(
        EditTarget(query="all"), r"^(\w+) hair$", r"\1-haired", regex=True, apply=a
    ),
    "reject": lambda s, a: s.reject_tags(EditTarget(query="all"), ["1girl", "smile"], apply=a),
    "restore": lambda s, a: s.reject_tags(EditTarget(query="all"), ["*"], restore=True, apply=a),
    "caption": lambda s, a: s.set_caption(EditTarget(query="score:>3"), "a manual caption", apply=a),
    "caption_clear": lambda s, a: s.set_caption(EditTarget(query="all"), None, apply=a),
    "score": lambda s, a: s.set_score(EditTarget(ids=(2, 4)), 9.5, apply=a),
    "rating": lambda s, a: s.set_rating(EditTarget(query="all"), "sensitive", apply=a),
    "rating_clear": lambda s, a: s.set_rating(EditTarget(query="all"), None, apply=a),
    "reviewed": lambda s, a: s.mark_reviewed(EditTarget(query="tag:cat OR tag:smile"), apply=a),
}


def _changed_images(
    before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]
) -> set[int]:
    changed: set[int] = set()
    for table in before:
        old = {row["id"]: row for row in before[table]}
        new = {row["id"]: row for row in after[table]}
        for row_id in old.keys() | new.keys():
            if old.get(row_id) != new.get(row_id):
                row = old.get(row_id) or new[row_id]
                changed.add(row["id"] if table == "images" else row["image_id"])
    return changed


@pytest.mark.parametrize("name", sorted(EDITS))
def test_dry_run_predicts_apply_and_undo_restores_exactly(
    project: tuple[Project, list[int]], name: str
) -> None:
    opened, _ids = project
    service = EditService(opened)
    before = snapshot(opened)
    dry = EDITS[name](service, False)
    assert snapshot(opened) == before, "a dry run must not write"
    assert dry.images_changed > 0, "each scenario must change something"
    applied = EDITS[name](service, True)
    after = snapshot(opened)
    for key in (
        "images_matched",
        "images_changed",
        "rows_inserted",
        "rows_updated",
        "rows_deleted",
        "samples",
    ):
        assert getattr(dry, key) == getattr(applied, key), key
    assert _changed_images(before, after) == set(applied.samples)
    assert len(_changed_images(before, after)) == applied.images_changed
    assert applied.edit_id is not None
    undone = service.undo()
    assert undone.edit_id == applied.edit_id
    assert snapshot(opened) == before
    service.redo()
    assert snapshot(opened) == after
    assert EDITS[name](service, False).images_changed == 0, "applying twice changes nothing more"


def test_edit_semantics(project: tuple[Project, list[int]]) -> None:
    opened, ids = project
    service, search = EditService(opened), SearchService(opened)
    service.add_tags(EditTarget(ids=(ids[0],)), ["first"], position="front", apply=True)
    service.add_tags(EditTarget(ids=(ids[0],)), ["last"], apply=True)
    details = search.details([ids[0]])[0]
    effective = [
        t for t in details["tags"] if t["is_accepted"] and not t["rejected_at"] and not t["removed_at"]
    ]
    assert effective[0]["tag"] == "first" and effective[-1]["tag"] == "last"
    manual = [t for t in details["tags"] if t["tag"] in {"first", "last"}]
    assert all(t["source"] == "manual" and t["model"] is None and t["is_edited_manually"] for t in manual)

    service.remove_tags(EditTarget(query="all"), ["1girl"], apply=True)
    assert search.count("tag:1girl") == 0
    model_rows = [
        t for d in search.details(ids) for t in d["tags"] if t["tag"] == "1girl" and not t["rejected_at"]
    ]
    assert model_rows and all(t["is_accepted"] and t["removed_at"] for t in model_rows), (
        "model output is kept as the model gave it; the removal is the person's decision"
    )

    before = search.count("tag:smile")
    service.reject_tags(EditTarget(query="all"), ["smile"], apply=True)
    assert search.count("tag:smile") == 0 and search.count("rejected:smile") >= before
    service.set_score(EditTarget(query="all"), 1.0, apply=True)
    assert search.count("score:>1") == 0, "a manual score hides the model scores of its kind"
    assert len(service.log()) == 5


def test_undo_all_then_state_is_original_and_new_edit_ends_redo(project: tuple[Project, list[int]]) -> None:
    opened, _ids = project
    service = EditService(opened)
    original = snapshot(opened)
    for name in ("add_back", "replace_exact", "reject", "caption", "rating", "reviewed"):
        EDITS[name](service, True)
    for _ in range(6):
        service.undo()
    assert snapshot(opened) == original
    with pytest.raises(ValidationError, match="nothing to undo"):
        service.undo()
    service.redo()
    EDITS["score"](service, True)
    with pytest.raises(ValidationError, match="nothing to redo"):
        service.redo()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.sampled_from(sorted(EDITS)), min_size=1, max_size=5))
def test_any_sequence_of_edits_undoes_to_the_original(tmp_path: Path, steps: list[str]) -> None:
    opened, _ids = _fresh(tmp_path)
    service = EditService(opened)
    original = snapshot(opened)
    applied = sum(EDITS[name](service, True).edit_id is not None for name in steps)
    for _ in range(applied):
        service.undo()
    assert snapshot(opened) == original
    for _ in range(applied):
        service.redo()
    for _ in range(applied):
        service.undo()
    assert snapshot(opened) == original


_FRESH: dict[Path, int] = {}


def _fresh(tmp_path: Path) -> tuple[Project, list[int]]:
    """A new project per hypothesis example (they share one tmp_path)."""
    _FRESH[tmp_path] = _FRESH.get(tmp_path, 0) + 1
    folder = tmp_path / f"example{_FRESH[tmp_path]}"
    from lorairo.services.configuration_service import ConfigurationService
    from lorairo.services.project_service import ProjectService
    from tests.factories import add_image_row, make_image_file

    project = ProjectService(ConfigurationService()).create(f"p{_FRESH[tmp_path]}")
    ids = [add_image_row(project.database, make_image_file(folder / f"{i}.png", seed=i)) for i in range(5)]
    _seed(project, ids)
    return project, ids


@pytest.mark.parametrize(
    "query",
    [
        f'tag:"{INJECTION}"',
        f'caption:"{INJECTION}"',
        f'rejected:"{INJECTION}"',
        f'name:"{INJECTION}"',
        f'model:"{INJECTION}"',
        f'failed:"{INJECTION}"',
        f'"{INJECTION}"',
        "tag:x'*",
        'caption:"a\\" OR 1=1 --"',
    ],
)
def test_injection_matches_nothing_and_changes_nothing(
    project: tuple[Project, list[int]], query: str
) -> None:
    opened, _ids = project
    search, service = SearchService(opened), EditService(opened)
    before = snapshot(opened)
    assert search.search(query).ids == []
    assert search.count(query) == 0
    report = service.add_tags(EditTarget(query=query), ["pwned"], apply=True)
    assert report.images_matched == 0 and report.edit_id is None
    assert service.remove_tags(EditTarget(query=query), ["*"], apply=True).images_changed == 0
    assert snapshot(opened) == before
    assert service.log() == []


def test_malformed_injection_is_refused_without_writing(project: tuple[Project, list[int]]) -> None:
    opened, _ids = project
    before = snapshot(opened)
    with pytest.raises(ValidationError, match="column 22: unterminated quote"):
        EditService(opened).add_tags(EditTarget(query='caption:"a" OR 1=1 --"'), ["pwned"], apply=True)
    assert snapshot(opened) == before


def test_injection_text_as_a_tag_is_stored_literally(project: tuple[Project, list[int]]) -> None:
    opened, ids = project
    EditService(opened).add_tags(EditTarget(ids=(ids[0],)), [INJECTION], apply=True)
    search = SearchService(opened)
    assert search.search(f'tag:"{INJECTION}"').ids == [ids[0]]
    assert search.count("all") == len(ids)


def test_bad_input_is_a_validation_error(project: tuple[Project, list[int]]) -> None:
    opened, _ids = project
    service = EditService(opened)
    with pytest.raises(ValidationError, match="no image with id 999"):
        service.add_tags(EditTarget(ids=(999,)), ["x"])
    with pytest.raises(ValidationError, match="column 1: unknown field 'colour'"):
        service.add_tags(EditTarget(query="colour:red"), ["x"])
    with pytest.raises(ValidationError):
        EditTarget(query="  ")
    with pytest.raises(ValidationError, match="regular expression"):
        service.replace_tag(EditTarget(query="all"), "(", "x", regex=True)
    with pytest.raises(ValidationError, match="rating"):
        service.set_rating(EditTarget(query="all"), "nsfw")


def test_cancel_rolls_back_the_whole_edit(project: tuple[Project, list[int]]) -> None:
    opened, _ids = project
    before = snapshot(opened)
    token = CancelToken()
    calls: list[int] = []

    def progress(done: int, total: int | None, message: str = "") -> None:
        calls.append(done)
        token.cancel()

    service = EditService(opened)
    with pytest.raises(OperationCancelled):
        service.add_tags(EditTarget(query="all"), ["x"], apply=True, progress=progress, cancel=token)
    assert calls
    assert snapshot(opened) == before
    assert service.log() == []
