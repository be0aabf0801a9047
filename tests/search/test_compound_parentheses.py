"""A query whose set operations need their parentheses: PostgreSQL binds INTERSECT tighter than
UNION, so `A (B OR A)` rendered flat inside IN (...) read `B ∪ (A ∩ A)` and found B's images
(found by the property test on PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lorairo.database.schema import Caption, Tag
from lorairo.services.search_service import SearchService
from tests.search.helpers import new_project

pytestmark = pytest.mark.usefixtures("store_engine")

QUERY = 'tag:"1girl" (caption:"red" OR tag:"1girl")'


def test_an_and_over_an_or_keeps_its_grouping_in_pages_counts_and_facets(tmp_path: Path) -> None:
    project, ids = new_project(tmp_path, count=3)
    with project.database.write_session() as session:
        session.add(Caption(image_id=ids[0], caption="red", source="model"))
        session.add(Tag(image_id=ids[1], tag="1girl", is_accepted=True, source="manual", position=0))
    service = SearchService(project)
    assert service.search(QUERY, sort="id", limit=100).ids == [ids[1]]
    assert service.count(QUERY) == 1
    node, aliases = service.parse(QUERY)
    with project.database.read_session() as session:
        for walk in (True, False):
            assert service.repository.page(
                session, node, aliases=aliases, sort="id", limit=100, walk=walk
            ) == [ids[1]]
    facets = service.facets(QUERY)
    counted = {count.tag: count.images for counts in facets.tags.values() for count in counts}
    assert counted == {"1girl": 1}
