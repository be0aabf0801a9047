"""Shared fixtures: every test gets its own config file and database directory, never the user's.

Engines: a test that asks for `store_engine` (the `project` fixture does) runs once per engine
selected by `--engine` or `LORAIRO_TEST_ENGINE`: `sqlite`, `postgresql` or `all` (the default, so
the one test command covers both). PostgreSQL runs come from a private server started once per
test process (tests/postgres_server.py), each test in a fresh database; when no server can be
started they are skipped with the reason, and the run ends with a warning saying so.

Hypothesis tests draw a third of their examples on PostgreSQL (at least 10): the SQLite run explores
the input space, and the PostgreSQL run checks that the same compiled queries mean the same there,
at a server round trip per statement.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from lorairo.database.engine import Database, project_schema
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import Project, ProjectService
from tests.postgres_server import PostgresServer, start_server

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"


ENGINES = ("sqlite", "postgresql")
POSTGRESQL_EXAMPLES = 1 / 3
_TEMPLATE = "lorairo_template"
_postgres_unavailable: list[str] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engine",
        choices=(*ENGINES, "all"),
        default=os.environ.get("LORAIRO_TEST_ENGINE", "all"),
        help="store engine(s) for database-touching tests (env LORAIRO_TEST_ENGINE; default all)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_engine" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--engine")
        engines = ENGINES if chosen == "all" else (chosen,)
        metafunc.parametrize("store_engine", engines, indirect=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for reason in _postgres_unavailable:
        terminalreporter.write_sep("!", f"PostgreSQL TESTS SKIPPED: {reason}", red=True, bold=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fewer Hypothesis examples on PostgreSQL (see the module docstring); the test function is
    shared by both engines' items, so its settings are put back afterwards."""
    test = getattr(item, "obj", None)
    callspec = getattr(item, "callspec", None)
    if (
        not getattr(test, "is_hypothesis_test", False)
        or callspec is None
        or callspec.params.get("store_engine") != "postgresql"
    ):
        return (yield)
    full = test._hypothesis_internal_use_settings  # type: ignore[union-attr]
    test._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
        full, max_examples=max(10, round(full.max_examples * POSTGRESQL_EXAMPLES))
    )
    try:
        return (yield)
    finally:
        test._hypothesis_internal_use_settings = full  # type: ignore[union-attr]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | None]:
    """One server per test process, with a template database holding project `t` at the head."""
    server, reason = start_server()
    if server is None:
        _postgres_unavailable.append(reason)
        warnings.warn(f"PostgreSQL tests skipped: {reason}", pytest.PytestWarning, stacklevel=1)
        yield None
        return
    try:
        with server.admin() as admin:
            admin.execute(f'CREATE DATABASE "{_TEMPLATE}"')
        Database(server.url(_TEMPLATE), schema=project_schema("t")).close()
        yield server
    finally:
        server.stop()


@pytest.fixture
def store_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The engine this run of the test uses; on PostgreSQL, `LORAIRO_DATABASE_URL` names a fresh
    database, so every project the test creates (in-process or in a CLI subprocess) lives there."""
    engine = str(request.param)
    if engine != "postgresql":
        yield engine
        return
    server = request.getfixturevalue("postgres_server")
    if server is None:
        pytest.skip(f"PostgreSQL unavailable: {_postgres_unavailable[0]}")
    name = server.create_database(template=_TEMPLATE)
    monkeypatch.setenv("LORAIRO_DATABASE_URL", server.url(name))
    yield engine
    server.drop_database(name)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point LoRAIro at a throwaway config and database dir and clear provider keys."""
    home = tmp_path / "lorairo-home"
    monkeypatch.setenv("LORAIRO_CONFIG_PATH", str(home / "config" / "lorairo.toml"))
    monkeypatch.setenv("LORAIRO_DATABASE_DIR", str(home / "projects"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))  # platformdirs defaults, e.g. the tag DB dir
    for var in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GOOGLE_API_KEY",
        "GEMINI_API_KEY",
        "LORAIRO_LOG_LEVEL",
        "LORAIRO_DEBUG",
        "LORAIRO_MAX_WORKERS",
        "LORAIRO_BATCH_SIZE",
        "LORAIRO_DATABASE_URL",
        "LORAIRO_IMAGES_ROOT",
    ):
        monkeypatch.delenv(var, raising=False)
    yield home


@pytest.fixture
def config() -> ConfigurationService:
    """The isolated configuration (created with defaults on first use)."""
    return ConfigurationService()


@pytest.fixture
def project(store_engine: str, config: ConfigurationService) -> Iterator[Project]:
    """A fresh project named `t` in the isolated database directory, on each selected engine."""
    opened = ProjectService(config).create("t")
    yield opened
    opened.close()
