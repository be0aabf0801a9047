"""`project migrate`: SQLite -> PostgreSQL -> SQLite, verified, the source never deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from lorairo.errors import ValidationError
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditService, EditTarget
from lorairo.services.project_service import ProjectService
from lorairo.services.search_service import SearchService
from tests.postgres_server import PostgresServer
from tests.search.helpers import new_project
from tests.search.test_edits import _seed

QUERIES = [
    "tag:1girl",
    "tag:*hair -tag:monochrome",
    "rejected:*",
    'caption:"red hair"',
    "score:>2",
    "rating:general,sensitive",
    "edited",
    "tag:solo OR width:>=512",
]


def _results(project_name: str, config: ConfigurationService) -> dict[str, object]:
    project = ProjectService(config).open(project_name)
    search = SearchService(project)
    out: dict[str, object] = {}
    for query in QUERIES:
        page = search.search(query, limit=100, sort="id")
        out[query] = (page.ids, [(s.tags, s.caption, s.score, s.rating) for s in page.summaries])
    for sort in ("name", "-score", "random"):
        out[sort] = search.search("", limit=100, sort=sort, seed=3).ids
    project.close()
    return out


def test_round_trip_gives_identical_results_and_keeps_both_sources(
    postgres_server: PostgresServer | None, tmp_path: Path, config: ConfigurationService
) -> None:
    if postgres_server is None:
        pytest.skip("PostgreSQL unavailable (see the warning at the end of the run)")
    project, ids = new_project(tmp_path, count=12)
    _seed(project, ids)
    EditService(project).add_tags(EditTarget(ids=tuple(ids[:5])), ["Blue Sky"])
    project.close()
    name = project.name
    before = _results(name, config)
    service = ProjectService(config)
    url = postgres_server.url(postgres_server.create_database())

    there = service.migrate(name, url)
    assert there["rows"]["tags"] > 0 and set(there["rows"]) == set(there["checksums"])
    assert (project.root / "database.db").is_file()  # the source stays
    assert service.open(name).database.dialect == "postgresql"
    assert _results(name, config) == before

    with pytest.raises(ValidationError, match="exists"):
        service.migrate(name, "sqlite")  # the old file is still there: never overwritten
    (project.root / "database.db").rename(tmp_path / "old.db")
    back = service.migrate(name, "sqlite")
    assert back["checksums"] == there["checksums"]
    reopened = service.open(name)
    assert reopened.database.dialect == "sqlite"
    reopened.close()
    assert _results(name, config) == before
