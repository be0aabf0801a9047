"""A page of summaries is two statements whatever its size: the image rows with their one
effective caption, rating and score, and their tags. On a server each statement is a round trip
and a plan, a fixed cost every search pays (PostgreSQL's small queries spent ~10 ms on them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from lorairo.database.schema import Caption, Rating, Score, Tag
from lorairo.database.search_repository import SearchRepository
from tests.search.helpers import new_project

pytestmark = pytest.mark.usefixtures("store_engine")


@pytest.mark.parametrize("count", [1, 7])
def test_summaries_of_a_page_are_two_statements(tmp_path: Path, count: int) -> None:
    project, ids = new_project(tmp_path, count=count)
    with project.database.write_session() as session:
        for image_id in ids:
            session.add(Tag(image_id=image_id, tag=f"tag {image_id}", position=0))
            session.add(Caption(image_id=image_id, caption=f"caption {image_id}", source="model"))
            session.add(Caption(image_id=image_id, caption=f"mine {image_id}", source="manual"))
            session.add(Rating(image_id=image_id, rating="general"))
            session.add(Score(image_id=image_id, score=float(image_id)))
    statements = 0

    def counted(_conn: Any, _cursor: Any, sql: str, _params: Any, _context: Any, _many: bool) -> None:
        nonlocal statements
        statements += sql.lstrip().upper().startswith(("SELECT", "WITH"))  # not the session's own set-up

    event.listen(project.database.engine, "before_cursor_execute", counted)
    try:
        with project.database.read_session() as session:
            summaries = SearchRepository().summaries(session, ids)
    finally:
        event.remove(project.database.engine, "before_cursor_execute", counted)
        project.close()
    assert statements == 2
    assert [(s.id, s.tags, s.caption, s.rating, s.score) for s in summaries] == [
        (i, [f"tag {i}"], f"mine {i}", "general", float(i)) for i in ids
    ]
