"""Property: `similar:ID` / `similar:ID>t` combined with any other terms == the Python reference,
and the ids the vector index resolves equal a brute-force cosine ranking of the stored vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lorairo.database.embedding_repository import save_embeddings
from lorairo.database.query import And, Node, Not, Or, Term
from lorairo.database.schema import Model
from lorairo.search.query_language import parse_query
from lorairo.services.search_service import SearchService
from lorairo.services.similarity_service import QUERY_LIMIT, SimilarityService
from tests.search.helpers import load, new_project, reference_ids
from tests.search.test_search_property import _store, image_data, query_strategy

COUNT = 6
vector = st.lists(st.integers(-3, 3), min_size=4, max_size=4).filter(any)
similar_leaf = st.tuples(
    st.integers(0, COUNT - 1),
    st.sampled_from(["", ">", ">="]),
    st.sampled_from(["-0.51", "0.03", "0.47", "0.91"]),
)


def _unique_tags(data: dict) -> dict:
    """One row per tag name (the store keeps a model's tag once per image)."""
    seen: set[str] = set()
    tags = [row for row in data["tags"] if not (row[0] in seen or seen.add(row[0]))]
    return {**data, "tags": tags}


def _similar_terms(node: Node) -> list[Term]:
    if isinstance(node, Term):
        return [node] if node.field == "similar" else []
    if isinstance(node, Not):
        return _similar_terms(node.child)
    assert isinstance(node, And | Or)
    return [term for child in node.children for term in _similar_terms(child)]


def brute_force(term: Term, vectors: dict[int, np.ndarray]) -> list[int]:
    """The images a `similar:` term means, from the stored (float16) vectors by plain numpy."""
    assert isinstance(term.value, tuple)
    query = int(term.value[0])
    unit = {i: v / np.linalg.norm(v) for i, v in vectors.items()}
    ranked = sorted(
        ((float(unit[i] @ unit[query]), i) for i in unit if i != query), key=lambda pair: (-pair[0], pair[1])
    )
    if len(term.value) == 1:
        return sorted(i for _, i in ranked[:QUERY_LIMIT])
    threshold = float(term.value[1])
    return sorted(
        i for s, i in ranked if (s >= threshold - 1e-6 if term.op == ">=" else s > threshold + 1e-6)
    )


_PROJECTS: dict[Path, tuple[object, list[int]]] = {}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    images=st.lists(image_data.map(_unique_tags), min_size=COUNT, max_size=COUNT),
    vectors=st.lists(vector, min_size=COUNT, max_size=COUNT),
    similar=st.lists(similar_leaf, min_size=3, max_size=3),
    others=st.lists(query_strategy, min_size=3, max_size=3),
    shape=st.sampled_from(["{s} {q}", "{s} -({q})", "({s} OR {q})", "-{s} {q}", "{s} AND NOT {q}"]),
)
def test_similar_combined_with_other_terms_matches_python(
    tmp_path: Path,
    images: list[dict],
    vectors: list[list[int]],
    similar: list[tuple[int, str, str]],
    others: list[str],
    shape: str,
) -> None:
    if tmp_path not in _PROJECTS:
        _PROJECTS[tmp_path] = new_project(tmp_path, count=COUNT)
    project, ids = _PROJECTS[tmp_path]
    _store(project, ids, images)  # clears annotations (and models, so the vectors) first
    with project.database.write_session() as session:
        model = Model(name="clip", type="embedder")
        session.add(model)
        session.flush()
        save_embeddings(
            session, model.id, [(i, np.array(v, np.float32)) for i, v in zip(ids, vectors, strict=True)]
        )
    stored = {i: np.array(v, np.float16).astype(np.float64) for i, v in zip(ids, vectors, strict=True)}
    service = SearchService(project, term_resolvers=SimilarityService(project).term_resolvers())
    data = load(project)
    for (index, op, threshold), other in zip(similar, others, strict=True):
        term = f"similar:{ids[index]}" + (f"{op}{threshold}" if op else "")
        query = shape.format(s=term, q=other)
        node, _ = service.parse(query)
        for resolved in _similar_terms(node):
            assert sorted(resolved.resolved or ()) == brute_force(resolved, stored), query
        expected = reference_ids(node, data)
        assert sorted(service.search(query, limit=100, sort="id").ids) == expected, query
        assert service.count(query) == len(expected), query
        assert [i for batch in service.iter_ids(query, batch=2) for i in batch] == expected, query


def test_similar_of_an_image_without_a_vector_is_a_clear_error(tmp_path: Path) -> None:
    project, ids = new_project(tmp_path, count=3)
    with project.database.write_session() as session:
        model = Model(name="clip", type="embedder")
        session.add(model)
        session.flush()
        save_embeddings(session, model.id, [(ids[0], np.ones(4, np.float32))])
    service = SearchService(project, term_resolvers=SimilarityService(project).term_resolvers())
    try:
        service.search(f"similar:{ids[1]} tag:cat")
    except Exception as exc:
        assert "has no clip embedding" in str(exc)
    else:
        raise AssertionError("expected an error")
    assert parse_query("similar:3>0.9") == Term("similar", ">", ("3", "0.9"), 1)
    project.close()
