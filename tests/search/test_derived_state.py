"""State that triggers derive for search (migrations 0004-0006) stays exact through any write:
`is_effective` on scores/ratings (one row per image and score kind: the manual one, else the
newest), `tag_vocabulary`, and the tag rows' mirror of their `tag_decisions`."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from lorairo.database.dialect import fold, nocase
from lorairo.database.schema import Rating, Score, Tag, TagDecision, TagVocabulary, utcnow
from lorairo.services.project_service import Project
from tests.search.helpers import clear_annotations, new_project

# Every test here runs on each selected store engine (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("store_engine")

SOURCES = ["model", "manual"]
TAGS = ["cat", "Cat", "red hair", "RED HAIR", "smile", "ß"]

insert_score = st.tuples(
    st.just("insert_score"),
    st.integers(0, 2),
    st.sampled_from(["aesthetic", "quality"]),
    st.sampled_from(SOURCES),
)
insert_rating = st.tuples(st.just("insert_rating"), st.integers(0, 2), st.just(""), st.sampled_from(SOURCES))
insert_tag = st.tuples(st.just("insert_tag"), st.integers(0, 2), st.sampled_from(TAGS), st.just(""))
change = st.tuples(
    st.sampled_from(["delete", "source", "kind", "move", "retag"]),
    st.integers(0, 30),
    st.sampled_from([*SOURCES, "aesthetic", "quality", *TAGS]),
    st.just(""),
)
decide = st.tuples(
    st.sampled_from(["decide", "undecide"]),
    st.integers(0, 2),
    st.sampled_from(TAGS),
    st.sampled_from(["r", "x", ""]),
)
operations = st.lists(st.one_of(insert_score, insert_rating, insert_tag, change, decide), max_size=25)


def _apply(project: Project, ids: list[int], operation: tuple[str, int, str, str]) -> None:
    action, number, value, source = operation
    with project.database.write_session() as session:
        if action == "insert_score":
            session.add(Score(image_id=ids[number], kind=value, score=float(number), source=source))
        elif action == "insert_rating":
            session.add(Rating(image_id=ids[number], rating="general", source=source))
        elif action == "insert_tag":
            session.add(Tag(image_id=ids[number], tag=value))
        elif action in {"decide", "undecide"}:
            decision = session.scalars(
                select(TagDecision).where(
                    TagDecision.image_id == ids[number], nocase(TagDecision.tag) == fold(value)
                )
            ).first()
            if action == "undecide":
                if decision is not None:
                    session.delete(decision)
                return
            if decision is None:
                decision = TagDecision(image_id=ids[number], tag=value)
                session.add(decision)
            decision.rejected_at = utcnow() if "r" in source else None
            decision.removed_at = utcnow() if "x" in source else None
        else:
            model = {"kind": Score, "retag": Tag}.get(action, (Score, Rating, Tag)[number % 3])
            row_ids = list(session.scalars(select(model.id).order_by(model.id)))
            if not row_ids:
                return
            row_id = row_ids[number % len(row_ids)]
            if action == "delete":
                session.execute(delete(model).where(model.id == row_id))
            elif action == "move":
                session.execute(update(model).where(model.id == row_id).values(image_id=ids[number % 3]))
            elif action == "source" and model is not Tag and value in SOURCES:
                session.execute(update(model).where(model.id == row_id).values(source=value))
            elif action == "kind" and value in {"aesthetic", "quality"}:
                session.execute(update(Score).where(Score.id == row_id).values(kind=value))
            elif action == "retag" and value in TAGS:
                session.execute(update(Tag).where(Tag.id == row_id).values(tag=value))


def _check(project: Project) -> None:
    with project.database.read_session() as session:
        scores = list(
            session.execute(select(Score.id, Score.image_id, Score.kind, Score.source, Score.is_effective))
        )
        chosen: dict[tuple[int, str], tuple[bool, int]] = {}
        for row_id, image_id, kind, source, _ in scores:
            chosen[(image_id, kind)] = max(
                chosen.get((image_id, kind), (False, 0)), (source == "manual", row_id)
            )
        for row_id, image_id, kind, _source, effective in scores:
            assert effective == (chosen[(image_id, kind)][1] == row_id)
        ratings = list(
            session.execute(select(Rating.id, Rating.image_id, Rating.source, Rating.is_effective))
        )
        picked: dict[int, tuple[bool, int]] = {}
        for row_id, image_id, source, _ in ratings:
            picked[image_id] = max(picked.get(image_id, (False, 0)), (source == "manual", row_id))
        for row_id, image_id, _source, effective in ratings:
            assert effective == (picked[image_id][1] == row_id)
        decisions = {
            (image_id, tag.lower()): (rejected, removed)
            for image_id, tag, rejected, removed in session.execute(
                select(TagDecision.image_id, TagDecision.tag, TagDecision.rejected_at, TagDecision.removed_at)
            )
        }
        for image_id, tag, rejected, removed in session.execute(
            select(Tag.image_id, Tag.tag, Tag.rejected_at, Tag.removed_at)
        ):
            assert (rejected, removed) == decisions.get((image_id, tag.lower()), (None, None))
        vocabulary = sorted(tag.lower() for tag in session.scalars(select(TagVocabulary.tag)))
        tags = sorted({tag.lower() for tag in session.scalars(select(Tag.tag))})
        assert vocabulary == tags  # the test tags differ only in ASCII case, where lower() == NOCASE


_PROJECTS: dict[Path, tuple[Project, list[int]]] = {}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=operations)
def test_triggers_keep_effective_flags_and_vocabulary_exact(
    tmp_path: Path, operations: list[tuple[str, int, str, str]]
) -> None:
    if tmp_path not in _PROJECTS:
        _PROJECTS[tmp_path] = new_project(tmp_path, count=3)
    project, ids = _PROJECTS[tmp_path]
    clear_annotations(project)
    for operation in operations:
        _apply(project, ids, operation)
        _check(project)
