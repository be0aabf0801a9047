"""Opening a project database (SQLite file or PostgreSQL server), migrations applied on open.

The GUI, CLI processes and (on PostgreSQL) workers on other machines may use one project at the
same time. Both engines give the same guarantee: write transactions are serialised, readers never
wait for them.

- SQLite: WAL lets readers run beside a writer; write transactions start with `BEGIN IMMEDIATE`,
  so a writer waits (busy timeout) for the write lock up front instead of failing with "database
  is locked" when upgrading a read lock.
- PostgreSQL (psycopg 3): READ COMMITTED, and a write transaction first takes a transaction-level
  advisory lock, the same up-front writer lock. Work that is safe to run beside other writers
  (claiming work items with `FOR UPDATE SKIP LOCKED`) asks for `write_session(serialized=False)`.
"""

from __future__ import annotations

import os
import re
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lorairo.errors import DatabaseError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from alembic.config import Config

# The open unit of work `read_session`/`write_session` yield. Services hold one only to hand it
# back to repositories inside one transaction, so they name this instead of importing SQLAlchemy.
StoreSession = Session

BUSY_TIMEOUT_SECONDS = 60
_WRITE = "lorairo_write"
_SHARED = "shared"
# The PostgreSQL advisory lock that stands for SQLite's write lock: (this number, the project's schema).
WRITE_LOCK_KEY = 0x104A120
_SCHEMA_UNSAFE = re.compile(r"[^a-z0-9_]")


# The newest revision in migrations/versions. Kept here so opening an up-to-date database needs no
# alembic import (a noticeable share of CLI start-up); a test checks it against the scripts.
SCHEMA_HEAD = "0015"


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The head according to the migration scripts themselves."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_WRITE, False)
        if mode:  # "shared": writers of disjoint rows, together, yet never beside an exclusive one
            lock = "pg_advisory_xact_lock_shared" if mode == _SHARED else "pg_advisory_xact_lock"
            connection.exec_driver_sql(f"SELECT {lock}({WRITE_LOCK_KEY}, hashtext(current_schema()))")


def project_schema(name: str) -> str:
    """The PostgreSQL schema a project lives in: its name when that is a plain identifier, else a
    cleaned-up name with a short hash (so "My Set" and "my_set" stay apart)."""
    clean = _SCHEMA_UNSAFE.sub("_", name.lower())
    if clean == name and len(clean) <= 48 and not clean[0].isdigit():
        return clean
    return f"p_{clean[:40]}_{zlib.crc32(name.encode()):08x}"


def is_database_url(location: str | Path) -> bool:
    """A SQLAlchemy URL (`postgresql+psycopg://...`) rather than a file path."""
    return isinstance(location, str) and "://" in location


def display_url(url: str) -> str:
    """The URL with any password hidden, for messages and reports."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database url>"


def _postgres_engine(url: str, schema: str | None) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"invalid database url {display_url(url)}: {exc}") from exc
    if parsed.get_backend_name() != "postgresql":
        raise DatabaseError(f"unsupported database url {display_url(url)}: use postgresql+psycopg://...")
    if parsed.drivername != "postgresql+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    # Interactive queries of 1-100 ms. JIT compiling a plan costs 10-500 ms; it starts on the
    # planner's cost alone (100k), which a search over 100k images passes (0.55 s of a 0.93 s
    # page). Parallel workers cost more to start and gather than they save at that size, and
    # compete with the app on a small machine (a 100k-image count: 84 ms with 2 workers, 53 without).
    settings = {"jit": "off", "max_parallel_workers_per_gather": "0"}
    if schema is not None:  # every connection, here and in any process reopening `location`, uses it
        settings["search_path"] = schema
    # A pool worker reopens the engine's own URL: the options already there (its search_path) stay.
    given = parsed.query.get("options", "")
    given_options = " ".join(given) if isinstance(given, tuple) else given
    options = [o for o in given_options.split() if o.removeprefix("-c").split("=")[0] not in settings]
    options += [f"-c{name}={value}" for name, value in settings.items()]
    parsed = parsed.update_query_dict({"options": " ".join(options)})
    engine = create_engine(
        parsed,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 10, "application_name": "lorairo"},
    )
    # An executemany INSERT becomes multi-row INSERTs (up to 1000 rows each), as SQLAlchemy does
    # for psycopg2: psycopg 3 alone pipelines one statement per row, each parsed, planned and
    # executed by the server, and each firing the table's statement triggers (migration 0014).
    engine.dialect.use_insertmanyvalues_wo_returning = True
    _configure_postgresql(engine)
    return engine


def schema_exists(url: str, schema: str) -> bool:
    """Whether a project's schema exists on the PostgreSQL server at `url`."""
    engine = _postgres_engine(url, None)
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema})
            return found.scalar() is not None
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot reach {display_url(url)}: {exc}") from exc
    finally:
        engine.dispose()


class _WriterLock:
    """The write lock taken before `BEGIN IMMEDIATE` and held until commit: a thread lock plus
    `flock` on a file beside the database. SQLite's own busy handler waits with a backoff of up
    to 100 ms per try, so several processes writing small transactions (annotation workers) spent
    most of their time asleep; the kernel hands a released `flock` to the next waiter at once,
    and frees it when its holder dies. Where `fcntl` is missing (Windows) SQLite's wait remains."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".writer-lock")
        # Re-entrant: a write session opened inside another on the same thread (before the outer
        # one has written anything) behaves as it did under SQLite's own lock instead of waiting
        # for itself; only the outermost holder takes and releases the file lock.
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        if not self._thread_lock.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            raise DatabaseError(f"timed out waiting for the write lock on {self.path.parent}")
        self._depth += 1
        try:
            if fcntl is None or self._depth > 1:
                yield
                return
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._depth -= 1
            self._thread_lock.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Database:
    """A project's database at the latest migration, with read and write sessions.

    `location` is a SQLite file path or a PostgreSQL URL (`postgresql+psycopg://user@host/db`).
    On PostgreSQL, `schema` names the project's schema in that database, created when missing;
    the URL of `location` carries it, so another process reopens the same project.
    """

    def __init__(self, location: Path | str, *, migrate: bool = True, schema: str | None = None) -> None:
        if is_database_url(location):
            assert isinstance(location, str)
            self.path: Path | None = None
            self.engine = _postgres_engine(location, schema)
            if schema is not None:
                self._create_schema(schema)
        else:
            path = Path(location)
            self.path = path
            path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(
                f"sqlite:///{path}",
                connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            _configure_sqlite(self.engine)
        # SQLite: writers queue on a file lock (PostgreSQL: the advisory lock of `_on_begin`).
        self._writer_lock = _WriterLock(self.path) if self.path is not None else None
        self.dialect = self.engine.dialect.name
        self._write_engine = self.engine.execution_options(**{_WRITE: True})
        self._concurrent_engine = self.engine.execution_options(**{_WRITE: False})
        self._shared_sessions = sessionmaker(
            self.engine.execution_options(**{_WRITE: _SHARED}), expire_on_commit=False
        )
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        self._concurrent_sessions = sessionmaker(self._concurrent_engine, expire_on_commit=False)
        if migrate:
            self.upgrade()

    def _create_schema(self, schema: str) -> None:
        try:
            with self.engine.connect() as connection:
                exists = connection.execute(
                    text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
                ).scalar()
                if not exists:
                    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                    connection.commit()
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot open {self.display_location}: {exc}") from exc

    @property
    def location(self) -> str:
        """What reopens this database in another process: the file path or the full URL."""
        if self.path is not None:
            return str(self.path)
        return self.engine.url.render_as_string(hide_password=False)

    @property
    def display_location(self) -> str:
        """The file path, or the URL with its password hidden."""
        return str(self.path) if self.path is not None else display_url(self.location)

    def current_revision(self) -> str | None:
        try:
            with self.engine.connect() as connection:
                return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except (OperationalError, ProgrammingError):  # no alembic_version table yet: a new, empty database
            return None

    def upgrade(self, revision: str = "head") -> None:
        """Apply pending migrations inside one write transaction (other openers wait, then skip)."""
        if revision == "head" and self.current_revision() == SCHEMA_HEAD:
            return
        from alembic import command

        try:
            with self._write_engine.begin() as connection:
                command.upgrade(alembic_config(connection), revision)
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot migrate {self.display_location}: {exc}") from exc

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for queries; it never takes the write lock."""
        with self._read_sessions() as session:
            yield session

    @contextmanager
    def write_session(self, *, serialized: bool = True, shared: bool = False) -> Iterator[Session]:
        """One write transaction: committed on success, rolled back on any exception.

        `serialized=False` (PostgreSQL only; SQLite always serialises) skips the writer lock, for
        short transactions that rely on row locks instead. `shared=True` (PostgreSQL) takes the
        writer lock shared: such writers run side by side (they keep apart with row locks of
        their own) and all of them wait for, and hold off, ordinary writers.
        """
        if self.dialect == "sqlite" or (serialized and not shared):
            factory = self._write_sessions
        else:
            factory = self._shared_sessions if shared else self._concurrent_sessions
        lock = self._writer_lock.held() if self._writer_lock is not None else nullcontext()
        with lock, factory() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
        if self._writer_lock is not None:
            self._writer_lock.close()
