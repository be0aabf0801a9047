"""`TagDatabase`: the base tag file plus the user overlay, opened as one SQLite connection.

The overlay file is ATTACHed to every connection so a single statement can resolve user aliases
on top of base aliases. Replacing the base swaps the file atomically and keeps the previous one
(`base.previous.sqlite`) so a bad import can be rolled back.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, delete, event, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from genai_tag_db_tools.cleaning import clean_tag, lookup_key
from genai_tag_db_tools.db.schema import (
    OVERLAY_SCHEMA,
    TAG_TYPES,
    AliasConflict,
    BaseTables,
    Metadata,
    OverlayTables,
    SearchTerm,
    TagRow,
    TagStatus,
    TagTranslation,
    UserAlias,
    UserTag,
    UserTranslation,
)
from genai_tag_db_tools.normalize import Normalizer, NormalizeResult
from genai_tag_db_tools.search import TagSuggestion, search

BASE_FILE = "base.sqlite"
PREVIOUS_BASE_FILE = "base.previous.sqlite"
OVERLAY_FILE = "user.sqlite"
BUSY_TIMEOUT_MS = 30_000
_WRITE = "tagdb_write"


class TagDatabaseError(Exception):
    """A tag-database operation failed for a reason the user can act on."""


def configure_sqlite(engine: Engine, *, attach_overlay: Path | None = None) -> None:
    """Pragmas, optional overlay ATTACH, and BEGIN IMMEDIATE for write transactions."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA cache_size=-65536")
        if attach_overlay is not None:
            cursor.execute(f"ATTACH DATABASE ? AS {OVERLAY_SCHEMA}", (str(attach_overlay),))
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def open_engine(path: Path, *, attach_overlay: Path | None = None) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    configure_sqlite(engine, attach_overlay=attach_overlay)
    return engine


class TagDatabase:
    """The tag vocabulary in `directory`: `base.sqlite` (replaceable) and `user.sqlite` (kept)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.generation = 0
        self._normalizer = Normalizer(self)
        self._open()

    @property
    def base_path(self) -> Path:
        return self.directory / BASE_FILE

    @property
    def overlay_path(self) -> Path:
        return self.directory / OVERLAY_FILE

    @property
    def previous_base_path(self) -> Path:
        return self.directory / PREVIOUS_BASE_FILE

    def _open(self) -> None:
        self.engine = open_engine(self.base_path, attach_overlay=self.overlay_path)
        BaseTables.metadata.create_all(self.engine)
        OverlayTables.metadata.create_all(self.engine)
        self._write_engine = self.engine.execution_options(**{_WRITE: True})
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        with self._read_sessions() as session:
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        with self._write_sessions() as session, session.begin():
            yield session
        self.generation += 1

    # -- base --------------------------------------------------------------------------------

    def has_base(self) -> bool:
        with self.read_session() as session:
            return session.execute(select(TagRow.tag_id).limit(1)).first() is not None

    def metadata(self) -> dict[str, str]:
        with self.read_session() as session:
            return {row.key: row.value for row in session.scalars(select(Metadata))}

    def replace_base(self, build: Callable[[Path], None]) -> None:
        """Build a new base with `build(path)` beside the old one, then swap it in atomically.

        The overlay is untouched; the old base is kept as `base.previous.sqlite`.
        """
        staging = self.directory / f"{BASE_FILE}.building"
        staging.unlink(missing_ok=True)
        try:
            build(staging)
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
        self.engine.dispose()
        if self.base_path.exists():
            shutil.copy2(self.base_path, self.previous_base_path)
        staging.replace(self.base_path)
        self.generation += 1
        self._open()

    def restore_previous_base(self) -> None:
        """Undo the last replacement: the previous base comes back, the replaced one is kept as previous."""
        if not self.previous_base_path.exists():
            raise TagDatabaseError("there is no previous tag database to restore")
        self.engine.dispose()
        swap = self.directory / f"{BASE_FILE}.swap"
        self.base_path.replace(swap)
        self.previous_base_path.replace(self.base_path)
        swap.replace(self.previous_base_path)
        self.generation += 1
        self._open()

    # -- overlay -----------------------------------------------------------------------------

    def add_alias(self, alias: str, preferred: str) -> UserAlias:
        """Map `alias` to `preferred` for every format; replaces an earlier user alias of the same key."""
        alias_clean, preferred_clean = clean_tag(alias), clean_tag(preferred)
        if not alias_clean or not preferred_clean:
            raise TagDatabaseError("alias and preferred tag must not be empty")
        key, preferred_key = alias_clean.casefold(), preferred_clean.casefold()
        if key == preferred_key:
            raise TagDatabaseError(f"{alias!r} and {preferred!r} are the same tag")
        values = {
            "key": key,
            "alias": alias_clean,
            "preferred": preferred_clean,
            "preferred_key": preferred_key,
        }
        with self.write_session() as session:
            self._reject_alias_cycle(session, key, preferred_key)
            statement = sqlite_insert(UserAlias).values(**values)
            session.execute(statement.on_conflict_do_update(index_elements=["key"], set_=values))
        return UserAlias(**values)

    @staticmethod
    def _reject_alias_cycle(session: Session, key: str, preferred_key: str) -> None:
        seen = {key}
        current: str | None = preferred_key
        while current is not None:
            if current in seen:
                raise TagDatabaseError(f"alias {key!r} -> {preferred_key!r} would create a cycle")
            seen.add(current)
            current = session.scalar(select(UserAlias.preferred_key).where(UserAlias.key == current))

    def remove_alias(self, alias: str) -> bool:
        with self.write_session() as session:
            result = session.execute(delete(UserAlias).where(UserAlias.key == lookup_key(alias)))
        return bool(getattr(result, "rowcount", 0))

    def list_aliases(self) -> list[UserAlias]:
        with self.read_session() as session:
            return list(session.scalars(select(UserAlias).order_by(UserAlias.key)))

    def add_user_tag(self, tag: str, tag_type: str = "general") -> None:
        """Declare a tag known (so it is not reported unknown) without touching the base."""
        if tag_type not in TAG_TYPES:
            raise TagDatabaseError(f"unknown tag type {tag_type!r}; use one of {', '.join(TAG_TYPES)}")
        cleaned = clean_tag(tag)
        if not cleaned:
            raise TagDatabaseError("tag must not be empty")
        values = {"key": cleaned.casefold(), "tag": cleaned, "type": tag_type}
        with self.write_session() as session:
            statement = sqlite_insert(UserTag).values(**values)
            session.execute(statement.on_conflict_do_update(index_elements=["key"], set_=values))

    def add_translation(self, tag: str, language: str, translation: str) -> None:
        cleaned, tag_clean = translation.strip(), clean_tag(tag)
        if not cleaned or not tag_clean or not language.strip():
            raise TagDatabaseError("tag, language and translation must not be empty")
        row = UserTranslation(
            tag=tag_clean,
            tag_key=tag_clean.casefold(),
            language=language.strip(),
            text=cleaned,
            text_key=lookup_key(cleaned),
        )
        with self.write_session() as session:
            session.add(row)

    # -- queries -----------------------------------------------------------------------------

    def normalize(self, tags: Sequence[str], format: str = "danbooru") -> NormalizeResult:
        """Preferred tag and type per input; one query for all keys not cached yet."""
        return self._normalizer.normalize(tags, format=format)

    def search(
        self,
        query: str,
        *,
        format: str = "danbooru",
        limit: int = 10,
        substring: bool = False,
    ) -> list[TagSuggestion]:
        """Autocomplete ranked by usage count: prefixes and word starts; mid-word too with `substring`."""
        return search(self, query, format=format, limit=limit, substring=substring)

    def alias_conflicts(self, format: str | None = None) -> list[dict[str, Any]]:
        """Aliases the source listed under several tags: the candidates by rank, the chosen one
        first, and the user alias that pins a different choice, if any."""
        statement = select(AliasConflict, UserAlias.preferred).outerjoin(
            UserAlias, UserAlias.key == AliasConflict.alias_key
        )
        if format is not None:
            statement = statement.where(AliasConflict.format == format)
        statement = statement.order_by(AliasConflict.format, AliasConflict.alias_key, AliasConflict.rank)
        conflicts: dict[tuple[str, str], dict[str, Any]] = {}
        with self.read_session() as session:
            for row, pinned in session.execute(statement):
                entry = conflicts.setdefault(
                    (row.format, row.alias_key),
                    {"format": row.format, "alias": row.alias, "pinned": pinned, "candidates": []},
                )
                entry["candidates"].append(
                    {
                        "target": row.target,
                        "usage_count": row.target_usage_count,
                        "deprecated": bool(row.target_deprecated),
                        "chosen": row.rank == 1,
                    }
                )
        return list(conflicts.values())

    def stats(self) -> dict[str, int]:
        with self.read_session() as session:
            counts = {
                str(model.__tablename__): int(session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (
                    TagRow,
                    TagStatus,
                    TagTranslation,
                    SearchTerm,
                    UserAlias,
                    UserTag,
                    UserTranslation,
                )
            }
            counts["aliases"] = int(
                session.scalar(
                    select(func.count())
                    .select_from(TagStatus)
                    .where(TagStatus.preferred_tag_id != TagStatus.tag_id)
                )
                or 0
            )
        return counts
