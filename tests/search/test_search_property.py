"""Property: for random data and random queries, SQL search == a plain Python evaluation, and what
a result page shows (tags in order, caption, score of the default kind, rating) and sorts on is
what the Python reference says counts, with several score kinds per image."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lorairo.database.schema import (
    AnnotationFailure,
    Caption,
    ImageQuality,
    ImageSimilarity,
    Model,
    ModelAnnotation,
    Rating,
    Score,
    Tag,
    TagDecision,
)
from lorairo.search.query_language import parse_query
from lorairo.services.search_service import SearchService, with_project_settings
from tests.search.helpers import (
    clear_annotations,
    displayed,
    effective_score,
    load,
    new_project,
    reference_ids,
)

# Every test here runs on each selected store engine (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("store_engine")

TAGS = [
    "1girl",
    "Red Hair",
    "red hair",
    "long hair",
    "cat",
    "smile",
    "x' OR 1=1 --",
    "miku (cosplay)",
    "100%",
    "a%b",
]
WORDS = ["red", "dress", "girl", "a", "cat", "on", "mat", "Red"]
MODELS = ["wd-tagger", "clip-aesthetic"]
RATINGS = ["general", "sensitive", "questionable", "explicit"]
SOURCES = ["model", "manual"]

tag_row = st.tuples(
    st.sampled_from(TAGS),
    st.booleans(),
    st.sampled_from([None, "rejected", "removed"]),
    st.sampled_from(SOURCES),
)


def _one_model_row_per_tag(
    rows: list[tuple[str, bool, str | None, str]],
) -> list[tuple[str, bool, str | None, str]]:
    seen: set[str] = set()
    kept = []
    for row in rows:
        if row[3] == "model":
            if row[0] in seen:
                continue
            seen.add(row[0])
        kept.append(row)
    return kept


caption_row = st.tuples(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6), st.sampled_from(SOURCES))
score_row = st.tuples(
    st.sampled_from(["aesthetic", "quality"]),
    st.integers(0, 20).map(lambda v: v / 2),
    st.sampled_from(SOURCES),
)
rating_row = st.tuples(st.sampled_from(RATINGS), st.sampled_from(SOURCES))
image_data = st.fixed_dictionaries(
    {
        # a model writes each tag once per image (a unique index since migration 0010); manual rows may repeat
        "tags": st.lists(tag_row, max_size=5).map(_one_model_row_per_tag),
        "captions": st.lists(caption_row, max_size=2),
        "scores": st.lists(score_row, max_size=4),
        "order": st.permutations(range(5)).flatmap(lambda p: st.just(p[: len(p) // 2 + 1])) | st.none(),
        "ratings": st.lists(rating_row, max_size=2),
        "models": st.sets(st.sampled_from(MODELS)),
        "failures": st.sets(st.sampled_from(MODELS), max_size=1),
        "reviewed": st.booleans(),
        "similar": st.booleans(),
        "quality": st.none()
        | st.fixed_dictionaries(
            {
                "blur": st.none() | st.sampled_from([0.0, 0.5, 0.8, 0.81, 1.0]),
                "sharpness": st.none() | st.sampled_from([0.0, 12.5, 300.0]),
                "brightness": st.sampled_from([0.05, 0.2, 0.5, 0.85, 0.9]),
                "contrast": st.sampled_from([0.0, 0.1, 0.4]),
                "border": st.sampled_from([0.0, 0.25]),
                "letterbox": st.booleans(),
                "jpeg_quality": st.none() | st.integers(1, 100),
            }
        ),
    }
)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


OPS = st.sampled_from(["", ">", ">=", "<", "<="])
leaf = st.one_of(
    st.sampled_from(TAGS).map(lambda t: f"tag:{_quote(t)}"),
    st.sampled_from(["red*", "*hair", "?at", "100*", "%*", "a%*", "*(cosplay)", "RED*", "x'*"]).map(
        lambda p: f"tag:{p}"
    ),
    st.sampled_from(TAGS).map(lambda t: f"rejected:{_quote(t)}"),
    st.sampled_from(["red", "red dress", "a girl", "cat on", "mat", "dress red"]).map(
        lambda p: f"caption:{_quote(p)}"
    ),
    st.tuples(st.sampled_from(["score", "score[aesthetic]", "score[quality]"]), OPS, st.integers(0, 10)).map(
        lambda t: f"{t[0]}:{t[1]}{t[2]}"
    ),
    st.tuples(st.integers(0, 10), st.integers(0, 10)).map(lambda t: f"score:{min(t)}..{max(t)}"),
    st.lists(st.sampled_from(RATINGS), min_size=1, max_size=2).map(lambda r: "rating:" + ",".join(r)),
    st.tuples(st.sampled_from(["width", "height", "id"]), OPS, st.integers(0, 100)).map(
        lambda t: f"{t[0]}:{t[1]}{t[2]}"
    ),
    st.tuples(OPS, st.sampled_from(["0.5", "1", "1.5", "3"])).map(lambda t: f"aspect:{t[0]}{t[1]}"),
    st.sampled_from(["format:png", "format:jpg,png", "format:webp", "name:*cosplay*", "name:IMG?_*"]),
    st.sampled_from(MODELS).map(lambda m: f"model:{m}"),
    st.sampled_from(MODELS).map(lambda m: f"missing:{m}"),
    st.sampled_from(MODELS).map(lambda m: f"failed:{m}"),
    st.sampled_from(["untagged", "reviewed", "edited", "failed", "near-duplicate", "all"]),
    st.sampled_from(["blurry", "dark", "bright", "low-contrast", "letterbox", "small"]),
    st.tuples(
        st.sampled_from(["blur", "sharpness", "brightness", "contrast", "border", "jpeg_quality"]),
        OPS,
        st.sampled_from(["0", "0.2", "0.5", "0.8", "12.5", "60"]),
    ).map(lambda t: f"{t[0]}:{t[1]}{t[2]}"),
    st.sampled_from(["added:>2000-01-01", "added:<2000-01-01", "added:<=2999-12-31"]),
    st.sampled_from(["cat", "red", "smile", '"red dress"', "*hair"]),
)
query_strategy = st.recursive(
    leaf,
    lambda inner: st.one_of(
        inner.map(lambda q: f"-({q})"),
        inner.map(lambda q: f"NOT ({q})"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]} {t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]} OR {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]} AND {t[1]}"),
    ),
    max_leaves=5,
)


def _store(project, ids, images) -> None:
    clear_annotations(project)
    now = datetime(2026, 1, 1)
    with project.database.write_session() as session:
        models = {name: Model(name=name, type="tagger") for name in MODELS}
        session.add_all(models.values())
        session.flush()
        for image_id, data in zip(ids, images, strict=False):
            decisions: dict[str, TagDecision] = {}
            for index, (tag, _accepted, decided, _source) in enumerate(data["tags"]):
                decision = decisions.setdefault(tag.lower(), TagDecision(image_id=image_id, tag=tag))
                if decided == "rejected":
                    decision.rejected_at = now
                elif decided == "removed":
                    decision.removed_at = now
                if data["order"] is not None and index in data["order"] and decision.position is None:
                    decision.position = data["order"].index(index)
            session.add_all(decisions.values())
            for position, (tag, accepted, _decided, source) in enumerate(data["tags"]):
                session.add(
                    Tag(
                        image_id=image_id,
                        tag=tag,
                        is_accepted=accepted,
                        source=source,
                        model_id=models["wd-tagger"].id if source == "model" else None,
                        position=position,
                        confidence=0.5,
                    )
                )
            for words, source in data["captions"]:
                session.add(Caption(image_id=image_id, caption=" ".join(words), source=source))
            for kind, value, source in data["scores"]:
                session.add(Score(image_id=image_id, kind=kind, score=value, source=source))
            for rating, source in data["ratings"]:
                session.add(Rating(image_id=image_id, rating=rating, source=source))
            for name in data["models"]:
                session.add(ModelAnnotation(image_id=image_id, model_id=models[name].id))
            for name in data["failures"]:
                session.add(
                    AnnotationFailure(
                        image_id=image_id, model_name=name, provider="local", failure_reason="model_error"
                    )
                )
            if data["quality"] is not None:
                session.add(ImageQuality(image_id=image_id, version=1, **data["quality"]))
            if data["similar"] and image_id != ids[0]:
                session.add(ImageSimilarity(image_id=image_id, similar_to_id=ids[0], distance=3))
        session.flush()
        from lorairo.database.schema import Image

        for image_id, data in zip(ids, images, strict=False):
            session.get(Image, image_id).reviewed_at = now if data["reviewed"] else None


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    images=st.lists(image_data, min_size=6, max_size=6),
    queries=st.lists(query_strategy, min_size=4, max_size=4),
    kind=st.sampled_from(["aesthetic", "quality"]),
)
def test_sql_search_matches_python_evaluation(
    tmp_path: Path, images: list[dict], queries: list[str], kind: str
) -> None:
    project, ids = _project(tmp_path)
    project.score_kind = kind  # `[search] default_score_kind`
    project.training_resolution = 64  # SIZES straddle it: `small` selects some images
    _store(project, ids, images)
    service = SearchService(project)
    reference_data = load(project)
    by_id = {image.id: image for image in reference_data}
    for sort in ("-score", "score"):
        page = service.search("", sort=sort, limit=100)
        keyed = sorted(
            by_id.values(),
            key=lambda image: (
                effective_score(image, kind) if effective_score(image, kind) is not None else -1e308,
                image.id,
            ),
            reverse=sort == "-score",
        )
        assert page.ids == [image.id for image in keyed], sort
        for summary in page.summaries:
            shown = (summary.tags, summary.caption, summary.score, summary.rating)
            assert shown == displayed(by_id[summary.id], kind), summary
    for query in [*queries, "score:>5", f"score[{kind}]:>5"]:
        expected = reference_ids(
            with_project_settings(parse_query(query), kind, project.training_resolution), reference_data
        )
        assert sorted(service.search(query, limit=100, sort="id").ids) == expected, query
        assert service.count(query) == len(expected), query
        streamed = [i for batch in service.iter_ids(query, batch=2) for i in batch]
        assert streamed == expected, query
        node, aliases = service.parse(query)
        for walk in (True, False):
            with project.database.read_session() as session:
                page = service.repository.page(
                    session, node, aliases=aliases, sort="id", limit=100, walk=walk
                )
            assert page == expected, (query, walk)


_PROJECTS: dict[Path, tuple[object, list[int]]] = {}


def _project(tmp_path: Path):
    """One project per test run: hypothesis re-uses the function-scoped tmp_path across examples."""
    if tmp_path not in _PROJECTS:
        _PROJECTS[tmp_path] = new_project(tmp_path, count=6)
    return _PROJECTS[tmp_path]


def test_sort_orders_and_pages_are_consistent(tmp_path: Path) -> None:
    project, ids = new_project(tmp_path)
    with project.database.write_session() as session:
        for value, image_id in enumerate(ids):
            session.add(Score(image_id=image_id, score=float(value % 4)))
    service = SearchService(project)
    for sort in ("added", "-added", "name", "-name", "score", "-score", "id", "-id", "random"):
        whole = service.search("", sort=sort, limit=100, seed=7).ids
        paged = [
            i
            for offset in range(0, len(ids), 3)
            for i in service.search("", sort=sort, limit=3, offset=offset, seed=7).ids
        ]
        assert paged == whole, sort
        assert sorted(whole) == sorted(ids)
    names = [s.name for s in service.search("", sort="name", limit=100).summaries]
    assert names == sorted(names)
    by_score = service.search("", sort="-score", limit=100).summaries
    assert [s.score for s in by_score] == sorted((s.score for s in by_score), reverse=True)
    assert (
        service.search("", sort="random", seed=1, limit=100).ids
        != service.search("", sort="random", seed=2, limit=100).ids
    )


def test_query_beyond_sqlite_compound_limit_still_matches(tmp_path: Path) -> None:
    """520 OR'ed tags would chain 520 SELECTs, beyond SQLite's compound limit (500)."""
    project, ids = new_project(tmp_path, count=4)
    with project.database.write_session() as session:
        for n, image_id in enumerate(ids):
            session.add(Tag(image_id=image_id, tag=f"t{n * 2 + 1}", position=0))
    query = " OR ".join(f"tag:t{i}" for i in range(0, 1040, 2)) + " OR tag:t1 OR tag:t7"
    expected = reference_ids(parse_query(query), load(project))
    service = SearchService(project)
    assert expected == [ids[0], ids[3]]
    assert service.count(query) == len(expected)
    assert sorted(service.search(query, limit=10).ids) == expected
