"""Opening a project database: pragmas for concurrent use, migrations applied on open.

The GUI and a CLI process may use one project at the same time. WAL lets readers run beside a
writer; write transactions start with `BEGIN IMMEDIATE`, so a writer waits (busy timeout) for the
write lock up front instead of failing with "database is locked" when upgrading a read lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lorairo.errors import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config

# The open unit of work `read_session`/`write_session` yield. Services hold one only to hand it
# back to repositories inside one transaction, so they name this instead of importing SQLAlchemy.
StoreSession = Session

BUSY_TIMEOUT_SECONDS = 60
_WRITE = "lorairo_write"


# The newest revision in migrations/versions. Kept here so opening an up-to-date database needs no
# alembic import (a noticeable share of CLI start-up); a test checks it against the scripts.
SCHEMA_HEAD = "0009"


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


class Database:
    """A project's SQLite database at the latest migration, with read and write sessions."""

    def __init__(self, path: Path, *, migrate: bool = True) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(
            f"sqlite:///{path}",
            connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        _configure_sqlite(self.engine)
        self._write_engine = self.engine.execution_options(**{_WRITE: True})
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        if migrate:
            self.upgrade()

    def current_revision(self) -> str | None:
        try:
            with self.engine.connect() as connection:
                return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except OperationalError:  # no alembic_version table yet: a new, empty database
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
            raise DatabaseError(f"cannot migrate {self.path}: {exc}") from exc

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for queries; it never takes the write lock."""
        with self._read_sessions() as session:
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """One write transaction: committed on success, rolled back on any exception."""
        with self._write_sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
