"""Property: a bare word also finds the tags that contain it whole (`red` -> "red theme"), SQL
agrees with the fields' Python `match`, and a result page lists the images matched without that
loose rule first, each group in the asked sort order."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lorairo.database.query import And, Node, Not, Or, Term
from lorairo.database.query_fields import matches
from lorairo.database.schema import Tag
from lorairo.search.query_language import parse_query
from lorairo.services.search_service import SearchService
from tests.search.helpers import clear_annotations, facts, load, new_project, reference_ids

TAGS = [
    "red",
    "Red",
    "red theme",
    "RED THEME",
    "theme red",
    "dark red eyes",
    "reddish",
    "re d",
    "red-eyes",
    "100% red",
    "eyes",
    "dark",
]
BARE = ["red", "RED", "theme", '"red theme"', '"dark red"', "eyes", "re", "100%", "d", "dark"]

leaf = st.one_of(
    st.sampled_from(BARE),
    st.sampled_from(BARE).map(lambda word: f"-{word}"),
    st.sampled_from(["tag:eyes", "-tag:dark", "tagword:red", "width:>50", "untagged"]),
)
queries = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda pair: f"{pair[0]} {pair[1]}"),
        st.tuples(inner, inner).map(lambda pair: f"({pair[0]} OR {pair[1]})"),
    ),
    max_leaves=3,
)
image_tags = st.lists(st.tuples(st.sampled_from(TAGS), st.booleans()), max_size=4)


def _strict(node: Node) -> Node:
    """The query without the loose rule: every `tagword:` term matches nothing."""
    if isinstance(node, Term):
        return (
            Not(Term("flag", "=", None, node.position, qualifier="all")) if node.field == "tagword" else node
        )
    if isinstance(node, Not):
        return Not(_strict(node.child))
    children = tuple(_strict(child) for child in node.children)
    return And(children) if isinstance(node, And) else Or(children)


_PROJECTS: dict[Path, tuple[object, list[int]]] = {}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tags=st.lists(image_tags, min_size=6, max_size=6), query_list=st.lists(queries, min_size=3, max_size=3)
)
def test_bare_words_find_tags_containing_them_ranked_after_exact(
    tmp_path: Path, tags: list[list[tuple[str, bool]]], query_list: list[str]
) -> None:
    if tmp_path not in _PROJECTS:
        _PROJECTS[tmp_path] = new_project(tmp_path, count=6)
    project, ids = _PROJECTS[tmp_path]
    clear_annotations(project)
    with project.database.write_session() as session:
        for image_id, rows in zip(ids, tags, strict=True):
            for position, (tag, accepted) in enumerate(rows):
                session.add(Tag(image_id=image_id, tag=tag, is_accepted=accepted, position=position))
    service = SearchService(project)
    images = {image.id: facts(image) for image in load(project)}
    for query in query_list:
        node = parse_query(query)
        expected = reference_ids(node, load(project))
        assert service.count(query) == len(expected), query
        strict = _strict(node)
        for sort, sign in (("id", 1), ("-id", -1)):
            page = service.search(query, sort=sort, limit=100).ids
            ranked = sorted(expected, key=lambda i: (not matches(strict, images[i]), sign * i))
            assert page == ranked, (query, sort)


def test_red_finds_red_theme_after_red(tmp_path: Path) -> None:
    project, ids = new_project(tmp_path, count=4)
    with project.database.write_session() as session:
        for image_id, tag in zip(ids, ["red theme", "red", "reddish", "dark red eyes"], strict=True):
            session.add(Tag(image_id=image_id, tag=tag, position=0))
    service = SearchService(project)
    assert service.search("red", sort="id").ids == [ids[1], ids[0], ids[3]]
    assert service.search("red", sort="-id").ids == [ids[1], ids[3], ids[0]]
    assert service.search("tag:red", sort="id").ids == [ids[1]]
    assert service.count("-red") == 1
    project.close()
