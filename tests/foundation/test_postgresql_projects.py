"""Projects in PostgreSQL: `--database-url`, `[database] url`, `LORAIRO_DATABASE_URL`; a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from lorairo.config import Settings
from lorairo.database.engine import SCHEMA_HEAD, Database, project_schema
from lorairo.database.schema import Image, Tag
from lorairo.database.search_sql import count_matches
from lorairo.errors import ConfigurationError, ValidationError
from lorairo.search.query_language import parse_query
from lorairo.services.project_service import ProjectService
from tests.postgres_server import PostgresServer


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lorairo", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def server(postgres_server: PostgresServer | None) -> PostgresServer:
    if postgres_server is None:
        pytest.skip("PostgreSQL unavailable (see the warning at the end of the run)")
    return postgres_server


def test_create_with_database_url_records_it_and_reopens_from_another_process(
    server: PostgresServer, tmp_path: Path
) -> None:
    url = server.url(server.create_database())
    env = {"LORAIRO_DATABASE_DIR": str(tmp_path)}
    created = run("--json", "project", "create", "My Set", "--database-url", url, env=env)
    assert created.returncode == 0, created.stderr
    data = json.loads(created.stdout)
    assert data["engine"] == "postgresql"
    assert (tmp_path / "My Set" / "project.toml").is_file()
    assert not (tmp_path / "My Set" / "database.db").exists()
    info = json.loads(run("--json", "project", "info", "My Set", env=env).stdout)
    assert info["revision"] == SCHEMA_HEAD
    assert info["counts"]["images"] == 0
    database = Database(url, migrate=False)
    with database.read_session() as session:
        tables = session.execute(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = :s"), {"s": project_schema("My Set")}
        ).scalar_one()
    database.close()
    assert tables >= 15
    assert json.loads(run("--json", "project", "list", env=env).stdout)["projects"] == ["My Set"]


def test_two_projects_share_one_database_in_separate_schemas(
    server: PostgresServer, config: Settings
) -> None:
    url = server.url(server.create_database())
    service = ProjectService(config)
    for name in ("a", "b"):
        project = service.create(name, database_url=url)
        with project.database.write_session() as session:
            session.execute(
                text("INSERT INTO models (name, type, created_at) VALUES (:n, 'tagger', CURRENT_TIMESTAMP)"),
                {"n": f"model-{name}"},
            )
        project.close()
    for name in ("a", "b"):
        project = service.open(name)
        with project.database.read_session() as session:
            assert session.execute(text("SELECT name FROM models")).scalars().all() == [f"model-{name}"]
        project.close()


def test_env_url_opens_a_project_made_on_another_machine(
    server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.url(server.create_database())
    monkeypatch.setenv("LORAIRO_DATABASE_DIR", str(tmp_path / "machine-a"))
    ProjectService(Settings()).create("shared", database_url=url).close()
    monkeypatch.setenv("LORAIRO_DATABASE_DIR", str(tmp_path / "machine-b"))
    monkeypatch.setenv("LORAIRO_DATABASE_URL", url)
    project = ProjectService(Settings()).open("shared")
    assert project.database.current_revision() == SCHEMA_HEAD
    project.close()
    with pytest.raises(Exception, match="no project named"):
        ProjectService(Settings()).open("never-made")


def test_bad_urls_are_refused_with_the_form_that_works(
    config: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match="postgresql\\+psycopg://"):
        ProjectService(config).create("x", database_url="mysql://root:hunter22@host/db")
    assert not (tmp_path / "x").exists()
    monkeypatch.setenv("LORAIRO_DATABASE_URL", "sqlite:///elsewhere.db")
    with pytest.raises(ConfigurationError, match="LORAIRO_DATABASE_URL"):
        Settings()


def test_a_sqlite_project_is_not_silently_moved(server: PostgresServer, config: Settings) -> None:
    service = ProjectService(config)
    service.create("local").close()
    with pytest.raises(ValidationError, match="project migrate"):
        service.create("local", database_url=server.url(server.create_database()))


def test_password_never_printed(config: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LORAIRO_DATABASE_URL", "postgresql+psycopg://lorairo:s3cret-pw@127.0.0.1:1/db")
    masked = Settings().masked_dict()["database"]["url"]
    assert "s3cret-pw" not in masked
    assert masked.startswith("postgresql+psycopg://lorairo:***@")


def test_tag_lookups_are_index_only_scans(server: PostgresServer) -> None:
    """`tag:x` reads a tag index alone, its ids in order (migration 0013: INCLUDE tag beside
    lorairo_fold(tag), and a partial index of the tags that count); before, PostgreSQL visited
    a heap page per matching row and sorted the ids. Scans that would dodge the question
    (sequential, bitmap) are switched off, so the plan says which index scan it can do."""
    database = Database(server.url(server.create_database()), schema=project_schema("plans"))
    with database.write_session() as session:
        image = Image(
            file_path="/a.png", stored_path="images/a.png", name="a.png", file_size=1, width=1,
            height=1, format="PNG", mode="RGB", has_alpha=False, sha256="0" * 64, phash=0,
        )  # fmt: skip
        session.add(image)
        session.flush()
        session.add(Tag(image_id=image.id, source="manual", tag="1girl", is_accepted=True))
    with database.read_session() as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_bitmapscan = off"))
        statement = count_matches(parse_query("tag:1GIRL")).compile(
            dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
        )
        plan = "\n".join(session.execute(text(f"EXPLAIN {statement}")).scalars())
        assert session.scalar(count_matches(parse_query("tag:1GIRL"))) == 1
    database.close()
    assert "Index Only Scan using ix_tags_effective" in plan and "Sort" not in plan, plan
