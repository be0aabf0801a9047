"""What differs between the two engines, in one place: case folding, LIKE, full-text match, triggers.

Queries are written once with these constructs; each compiles to its engine's own SQL.

- Case-insensitive tags follow SQLite's NOCASE everywhere: only ASCII letters fold. On PostgreSQL
  that is `lorairo_fold(x)`, an immutable SQL function (`translate` of A-Z) that expression
  indexes are built on, so `lorairo_fold(tag) IN (...)` seeks the index exactly as
  `tag COLLATE NOCASE IN (...)` does on SQLite. Values compared with a folded column are folded
  in Python by `fold`, so both engines compare the same strings.
- LIKE: SQLite's is ASCII-case-insensitive, PostgreSQL's is not; `nocase_like` folds both sides.
- Caption full text: FTS5 (`captions_fts MATCH`) on SQLite; on PostgreSQL a GIN index on
  `to_tsvector('simple', caption)` and a phrase query.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, literal
from sqlalchemy.dialects.postgresql import Insert as PGInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SQLiteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

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


def nocase_like(column: ColumnElement[str], pattern: str, escape: str | None = "\\") -> ColumnElement[bool]:
    """`column LIKE pattern`, ASCII letters matching either case on both engines."""
    return nocase(column).like(fold(pattern), escape=escape)


class text_match(FunctionElement[bool]):
    """Full-text phrase match of a text column (PostgreSQL), `to_tsvector(...) @@ phraseto_tsquery(...)`."""

    inherit_cache = True
    name = "text_match"


@compiles(text_match, "postgresql")
def _text_match_postgresql(element: text_match, compiler: SQLCompiler, **kw: Any) -> str:
    column, phrase = list(element.clauses)
    config = compiler.process(literal(TS_CONFIG, String()), literal_binds=True)
    return (
        f"to_tsvector({config}::regconfig, {compiler.process(column, **kw)}) "
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


def drop_plpgsql_trigger(name: str, table: str) -> tuple[str, str]:
    return f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}_fn()"


def upsert(session: Session, entity: Any) -> SQLiteInsert | PGInsert:
    """`INSERT` with `on_conflict_do_nothing`/`on_conflict_do_update` for the session's engine
    (the two dialects' inserts share that API)."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(entity)
    return sqlite_insert(entity)
