"""Projects in PostgreSQL: `--database-url`, `[database] url`, `LORAIRO_DATABASE_URL`; a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from lorairo.config import Settings
from lorairo.database.engine import SCHEMA_HEAD, Database, project_schema
from lorairo.database.schema import Caption, Image, Tag
from lorairo.database.search_repository import SearchRepository
from lorairo.database.search_sql import count_matches, select_ids
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


def _plan(session: Session, statement: Any) -> str:
    compiled = statement.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    return "\n".join(session.execute(text(f"EXPLAIN {compiled}")).scalars())


def _image(session: Session, n: int) -> int:
    image = Image(
        file_path=f"/{n}.png", stored_path=f"images/{n}.png", name=f"{n}.png", file_size=1, width=1,
        height=1, format="PNG", mode="RGB", has_alpha=False, sha256=f"{n:064x}", phash=n,
    )  # fmt: skip
    session.add(image)
    session.flush()
    return image.id


def test_tag_set_operations_are_joins_not_hashed_set_operations(server: PostgresServer) -> None:
    """AND and NOT of tags count through semi- and anti-joins of the ordered tag index streams;
    PostgreSQL hashed INTERSECT / EXCEPT over every id of every member (HashSetOp), 2-3x
    SQLite's merge of the same streams at 100k images."""
    database = Database(server.url(server.create_database()), schema=project_schema("joins"))
    with database.write_session() as session:
        for n, tags in enumerate((["1girl", "smile"], ["1girl", "smile", "monochrome"], ["smile"])):
            image_id = _image(session, n)
            session.add_all(
                Tag(image_id=image_id, source="manual", tag=tag, is_accepted=True) for tag in tags
            )
    repository = SearchRepository()
    with database.read_session() as session:
        for query, expected in (
            ("tag:1girl tag:smile", 2),
            ("tag:1girl -tag:monochrome", 1),
            ("-tag:1girl", 1),
        ):
            node = parse_query(query)
            ctx = repository.context(session, node)
            assert ctx.dialect == "postgresql"
            assert repository.count(session, node) == expected, query
            for statement in (count_matches(node, ctx), select_ids(node, ctx=ctx)):
                plan = _plan(session, statement)
                assert "SetOp" not in plan, plan
    database.close()


def test_caption_phrase_reads_the_stored_words_filled_on_upgrade(server: PostgresServer) -> None:
    """Migration 0015 stores each caption's tsvector and indexes it; the phrase query reads it
    instead of parsing every candidate caption again. A caption written before the upgrade is
    found after it (the generated column is filled for existing rows)."""
    database = Database(server.url(server.create_database()), schema=project_schema("words"), migrate=False)
    database.upgrade("0014")
    with database.write_session() as session:
        session.add(Caption(image_id=_image(session, 1), caption="A girl in a Red Dress", source="model"))
    database.upgrade()
    node = parse_query('caption:"red dress"')
    repository = SearchRepository()
    with database.read_session() as session:
        assert repository.count(session, node) == 1
        assert repository.page(session, node, walk=True) == repository.page(session, node, walk=False) == [1]
        session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = _plan(session, count_matches(node, repository.context(session, node)))
    database.close()
    assert "caption_words @@" in plan and "to_tsvector" not in plan, plan


def test_a_walked_or_probes_each_image_instead_of_hashing_every_match(server: PostgresServer) -> None:
    """A page walked in sort order tests an OR per image: one EXISTS over a UNION ALL of the
    members. As an OR of EXISTS PostgreSQL chose hashed subplans, reading every id each member
    matches (100 ms at 100k images) before the first row of a 50-row page."""
    database = Database(server.url(server.create_database()), schema=project_schema("walk_or"))
    with database.write_session() as session:
        for n in range(3):
            session.add(Tag(image_id=_image(session, n), source="manual", tag=("cat", "dog", "owl")[n]))
    node = parse_query("tag:cat OR tag:dog")
    repository = SearchRepository()
    with database.read_session() as session:
        assert repository.page(session, node, sort="id", walk=True) == [1, 2]
        plan = _plan(session, select_ids(node, ctx=repository.context(session, node), walk=True).limit(50))
    database.close()
    assert "hashed SubPlan" not in plan and "Append" in plan, plan


def test_the_location_reopens_the_same_schema_with_the_session_settings(server: PostgresServer) -> None:
    """A registration pool worker reopens `database.location`. The engine's own options (JIT and
    parallel workers off) once replaced the URL's search_path there, and every image failed with
    'relation "images" does not exist'."""
    database = Database(server.url(server.create_database()), schema=project_schema("reopen"))
    with database.write_session() as session:
        _image(session, 1)
    reopened = Database(database.location, migrate=False)
    with reopened.read_session() as session:
        assert session.scalar(select(func.count()).select_from(Image)) == 1
        settings = [session.execute(text(f"SHOW {name}")).scalar_one() for name in ("jit", "search_path")]
    reopened.close()
    database.close()
    assert settings == ["off", project_schema("reopen")]
