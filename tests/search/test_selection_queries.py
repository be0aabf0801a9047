"""The two reads behind the GUI's multi-selection and review queue, against the Python oracle over
random annotation states: `tag_counts` (a selection's shared tags, "n of N") and `ordered_ids`
(a whole search in the grid's sort)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lorairo.search.query_language import parse_query
from lorairo.services.search_service import SearchService, with_project_settings
from tests.search.helpers import _counts, load, reference_ids
from tests.search.test_search_property import _project, _store, image_data, query_strategy


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    images=st.lists(image_data, min_size=6, max_size=6),
    picked=st.sets(st.integers(0, 5), min_size=1),
    query=query_strategy,
    sort=st.sampled_from(["added", "-added", "name", "-id", "score", "-score"]),
)
def test_selection_tag_counts_and_ordered_ids_match_the_oracle(
    tmp_path: Path, images: list[dict], picked: set[int], query: str, sort: str
) -> None:
    project, ids = _project(tmp_path)
    _store(project, ids, images)
    service = SearchService(project)
    by_id = {image.id: image for image in load(project)}
    selected = [ids[i] for i in sorted(picked)]

    expected: Counter[str] = Counter()
    for image_id in selected:
        image = by_id[image_id]
        expected.update({tag.tag.casefold() for tag in image.tags if _counts(image, tag)})
    counts = service.tag_counts(selected)
    assert {tag.casefold(): n for tag, n in counts.items()} == dict(expected)
    assert len(counts) == len(expected), "one entry per tag, whatever its spellings"

    ordered = service.ordered_ids(query, sort=sort)
    assert ordered == service.search(query, sort=sort, limit=100).ids
    assert sorted(ordered) == reference_ids(
        with_project_settings(parse_query(query), project.score_kind, project.training_resolution),
        list(by_id.values()),
    )
