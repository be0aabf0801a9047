"""The field registry: a field added in one place works in the parser, both SQL shapes, the
canonical printer and the Python reference; a field resolved outside SQL (ids from an index)
combines with every other term."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from lorairo.database.query import Term
from lorairo.database.query_fields import (
    FIELDS,
    FieldValue,
    QueryField,
    SqlContext,
    canonical,
    parse_number,
)
from lorairo.database.schema import Image, Tag
from lorairo.database.search_sql import compile_condition, count_matches
from lorairo.errors import ValidationError
from lorairo.search.query_language import parse_query
from lorairo.services.search_service import SearchService
from tests.search.helpers import load, new_project, reference_ids
from tests.search.test_search_property import query_strategy


class _Near(QueryField):
    """`near:ID`: the image and its id neighbours, as a vector index would rank them."""

    def parse(self, spec: FieldValue) -> Term:
        return Term(self.name, "=", parse_number(spec.value, spec.value_position), spec.position)

    def format(self, term: Term) -> str:
        return f"{self.name}:{int(float(str(term.value)))}"


@pytest.fixture
def near_field() -> Iterator[QueryField]:
    field = _Near(
        "near",
        "ids next to an id",
        resolver="neighbours",
        row=lambda term, _ctx: Image.id.in_(term.resolved or ()),
        match=lambda term, image: abs(image.id - float(str(term.value))) <= 1,
    )
    FIELDS[field.name] = field
    yield field
    del FIELDS[field.name]


def _neighbours(term: Term) -> list[int]:
    centre = int(float(str(term.value)))
    return [centre - 1, centre, centre + 1]


def test_a_resolved_field_combines_with_other_terms(tmp_path: Path, near_field: QueryField) -> None:
    project, ids = new_project(tmp_path, count=8)
    with project.database.write_session() as session:
        for n, image_id in enumerate(ids):
            session.add(Tag(image_id=image_id, tag="cat" if n % 2 else "dog", position=0))
    service = SearchService(project, term_resolvers={"neighbours": _neighbours})
    images = load(project)
    centre = ids[3]
    for query in (
        f"near:{centre}",
        f"near:{centre} -tag:cat",
        f"-near:{centre}",
        f"(near:{centre} OR tag:dog) width:>40",
        f"near:{centre} OR near:{ids[6]}",
    ):
        expected = reference_ids(parse_query(query), images)
        assert expected, query
        assert sorted(service.search(query, limit=100).ids) == expected, query
        assert service.count(query) == len(expected), query
        assert [i for batch in service.iter_ids(query) for i in batch] == expected, query
        node, aliases = service.parse(query)
        for walk in (True, False):
            with project.database.read_session() as session:
                page = service.repository.page(session, node, aliases=aliases, sort="id", walk=walk)
            assert page == expected
    with pytest.raises(ValidationError, match="needs neighbours"):
        SearchService(project).search(f"tag:cat near:{centre}")
    project.close()


@settings(max_examples=200, deadline=None)
@given(query=query_strategy)
def test_canonical_form_parses_back_to_itself(query: str) -> None:
    """What an empty result shows as "parsed as" is a query meaning the same: printing is stable."""
    text = canonical(parse_query(query))
    assert canonical(parse_query(text)) == text


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    ("query", "table", "lookups"),
    [
        ("score:6..8", "scores", 1),  # a range is two terms on the one effective score row
        ("score:>2 tag:x score:<=8", "scores", 1),
        ("blur:0.2..0.5", "image_quality", 1),
        ("score:>6 score[quality]:<3", "scores", 2),  # two kinds: two rows
    ],
)
def test_comparisons_on_one_row_per_image_share_one_lookup(
    dialect: str, query: str, table: str, lookups: int
) -> None:
    """Each lookup of `scores` is a scan PostgreSQL joins to the others (2.4x SQLite's p99 for
    `score:6..8` at 100k images when the ends were looked up apart). Meaning is the property
    test's to check; this checks the shape, in the count's stream and in the walked condition."""
    engine = postgresql.dialect() if dialect == "postgresql" else sqlite.dialect()
    node = parse_query(query)
    ctx = SqlContext(dialect=dialect)
    for statement in (count_matches(node, ctx), select(Image.id).where(compile_condition(node, ctx))):
        assert str(statement.compile(dialect=engine)).count(f"FROM {table}") == lookups
