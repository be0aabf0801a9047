"""What differs between the two engines, in one place: case folding, LIKE, full-text match, triggers.

Queries are written once with these constructs; each compiles to its engine's own SQL.

- Case-insensitive tags follow SQLite's NOCASE everywhere: only ASCII letters fold. On PostgreSQL
  that is `lorairo_fold(x)`, an immutable SQL function (`translate` of A-Z) that expression
  indexes are built on, so `lorairo_fold(tag) IN (...)` seeks the index exactly as
  `tag COLLATE NOCASE IN (...)` does on SQLite. Values compared with a folded column are folded
  in Python by `fold`, so both engines compare the same strings.
- LIKE: SQLite's is ASCII-case-insensitive, PostgreSQL's is not; `nocase_like` folds both sides.
- Caption full text: FTS5 (`captions_fts MATCH`) on SQLite; on PostgreSQL a phrase query on the
  stored tsvector `caption_words` (`words_column`, migration 0015), which the GIN index is on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    String,
    Table,
    bindparam,
    column,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import Insert as PGInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SQLiteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnClause, Grouping
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = _UPPER.lower()
_FOLD_TABLE = str.maketrans(_UPPER, _LOWER)

FOLD_FUNCTION = "lorairo_fold"
# The text-search configuration of the caption index; 'simple' = lower-cased words, no stemming.
TS_CONFIG = "simple"

CREATE_FOLD_FUNCTION = (
    f"CREATE OR REPLACE FUNCTION {FOLD_FUNCTION}(value text) RETURNS text "
    f"LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT translate(value, '{_UPPER}', '{_LOWER}') $$"
)


def fold(value: str) -> str:
    """A value folded the way SQLite's NOCASE (and `lorairo_fold`) fold: ASCII letters only."""
    return value.translate(_FOLD_TABLE)


class nocase(FunctionElement[str]):
    """`x COLLATE NOCASE` on SQLite, `lorairo_fold(x)` on PostgreSQL. Compare it with `fold`ed values."""

    type = String()
    inherit_cache = True
    name = "nocase"


@compiles(nocase)
def _nocase_sqlite(element: nocase, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.clauses, **kw)} COLLATE NOCASE"


@compiles(nocase, "postgresql")
def _nocase_postgresql(element: nocase, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{FOLD_FUNCTION}({compiler.process(element.clauses, **kw)})"


def nocase_like(column: Any, pattern: str, escape: str | None = "\\") -> ColumnElement[bool]:
    """`column LIKE pattern`, ASCII letters matching either case on both engines."""
    return nocase(column).like(fold(pattern), escape=escape)


def words_column(name: str) -> str:
    """The stored `to_tsvector` of text column `name` on PostgreSQL (a generated column)."""
    return f"{name}_words"


class text_match(FunctionElement[bool]):
    """Full-text phrase match of a text column (PostgreSQL): its stored words (`words_column`)
    `@@ phraseto_tsquery(...)`. The table has no such column on SQLite, so it is named here,
    on the column's table (or alias), not mapped."""

    inherit_cache = True
    name = "text_match"


@compiles(text_match, "postgresql")
def _text_match_postgresql(element: text_match, compiler: SQLCompiler, **kw: Any) -> str:
    text_column, phrase = list(element.clauses)
    words: ColumnClause[Any] = column(words_column(text_column.name), _selectable=text_column.table)
    config = compiler.process(literal(TS_CONFIG, String()), literal_binds=True)
    return (
        f"{compiler.process(words, **kw)} "
        f"@@ phraseto_tsquery({config}::regconfig, {compiler.process(phrase, **kw)})"
    )


def plpgsql_trigger(name: str, when: str, table: str, body: str) -> tuple[str, str]:
    """A row trigger `name` running `body` (PL/pgSQL statements) `when` ("AFTER INSERT") on `table`:
    the function and the trigger, the PostgreSQL form of a SQLite `CREATE TRIGGER ... BEGIN ... END`."""
    function = (
        f"CREATE OR REPLACE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {body}; RETURN NULL; END $$"
    )
    trigger = f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}_fn()"
    return function, trigger


def plpgsql_statement_trigger(name: str, when: str, table: str, rows: str, body: str) -> tuple[str, str]:
    """`plpgsql_trigger` fired once per statement: `body` reads the statement's rows from the
    transition table `rows` ("NEW TABLE AS new_rows" or "OLD TABLE AS old_rows"). A batch of
    results inserted in one statement then runs each trigger statement once, not once a row."""
    function = (
        f"CREATE OR REPLACE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {body}; RETURN NULL; END $$"
    )
    trigger = (
        f"CREATE TRIGGER {name} {when} ON {table} REFERENCING {rows} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_fn()"
    )
    return function, trigger


def drop_plpgsql_trigger(name: str, table: str) -> tuple[str, str]:
    return f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}_fn()"


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    on_conflict: Callable[[Any], Any] | None = None,
) -> None:
    """INSERT many rows (each with the same keys; Python-side column defaults fill the rest) as
    one statement of fixed text on PostgreSQL: `INSERT ... SELECT * FROM unnest($1, $2, ...)`, one
    array per column. A row-per-statement executemany would make the server run each row as its
    own statement (and its statement triggers once per row); a multi-row VALUES list changes its
    text with the row count, so psycopg re-parses thousands of placeholders each time and the
    server plans it anew. SQLite runs the executemany in process, which is already cheap.
    `on_conflict` adds an `ON CONFLICT` clause to the engine's INSERT (see `upsert`)."""
    if not rows:
        return
    finish = on_conflict or (lambda statement: statement)
    if session.get_bind().dialect.name != "postgresql":
        session.execute(finish(sqlite_insert(table)), list(rows))
        return
    names = list(rows[0])
    values = {name: [row[name] for row in rows] for name in names}
    for table_column in table.columns:  # what an executemany would fill in per row, once per batch
        default = table_column.default
        if table_column.name in values or default is None or not (default.is_scalar or default.is_callable):
            continue
        value = default.arg if default.is_scalar else default.arg(None)  # type: ignore[attr-defined]
        values[table_column.name] = [value] * len(rows)
    arrays = [
        bindparam(f"rows_{name}", value, type_=ARRAY(table.c[name].type)) for name, value in values.items()
    ]
    source = func.unnest(*arrays).table_valued(*values).render_derived()
    session.execute(finish(pg_insert(table).from_select(list(values), select(*source.c))))


def upsert(session: Session, entity: Any) -> SQLiteInsert | PGInsert:
    """`INSERT` with `on_conflict_do_nothing`/`on_conflict_do_update` for the session's engine
    (the two dialects' inserts share that API)."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(entity)
    return sqlite_insert(entity)


class by_dialect(ColumnElement[Any]):
    """One expression per engine where the two have no common spelling (caption full text)."""

    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy's own declaration style
        ("sqlite", InternalTraversal.dp_clauseelement),
        ("postgresql", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, *, sqlite: ColumnElement[Any], postgresql: ColumnElement[Any]) -> None:
        self.sqlite = sqlite
        self.postgresql = postgresql
        self.type = sqlite.type


@compiles(by_dialect)
def _by_dialect_sqlite(element: by_dialect, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.sqlite, **kw))


@compiles(by_dialect, "postgresql")
def _by_dialect_postgresql(element: by_dialect, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.postgresql, **kw))


class flat_compound(Grouping[Any]):
    """A compound SELECT standing as the left member of another compound.

    SQLite rejects parenthesised compounds and reads a flat chain left to right; PostgreSQL binds
    INTERSECT tighter than UNION and EXCEPT, so there the member keeps its parentheses.
    """

    inherit_cache = True

    def _ensure_disambiguated_names(self) -> flat_compound:
        # Grouping hands unknown attributes to its element; a subquery of the outer compound
        # would then swap this member for the bare compound and lose the parentheses.
        inner = self.element._ensure_disambiguated_names()  # type: ignore[union-attr]
        return self if inner is self.element else flat_compound(inner)


@compiles(flat_compound)
def _flat_compound_sqlite(element: flat_compound, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.element, **kw))


@compiles(flat_compound, "postgresql")
def _flat_compound_postgresql(element: flat_compound, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.element, **kw)})"


def sync_id_sequences(connection: Connection, tables: Iterable[Table]) -> None:
    """After rows were inserted with explicit ids (edit replay, `project migrate`), move each
    PostgreSQL id sequence past the highest id, so the next plain insert cannot collide. SQLite
    takes max(rowid) + 1 by itself. Run under the writer lock."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        if (
            "id" not in table.c
            or table.c.id.autoincrement is False
            or not isinstance(table.c.id.type, Integer)
        ):
            continue  # no id sequence: a text id, or one the application assigns
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608 - our table names
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table.name}), false)"
            )
        )
