"""Operations the migrations share that differ by engine (imported only by migration scripts)."""

from __future__ import annotations

from alembic import op

from lorairo.database.dialect import drop_plpgsql_trigger, plpgsql_trigger


def is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def create_trigger(name: str, event: str, table: str, body: str) -> None:
    """A row trigger running `body` (`;`-separated statements using `new`/`old`) on either engine:
    `CREATE TRIGGER ... BEGIN body; END` on SQLite, a PL/pgSQL function and trigger on PostgreSQL."""
    if is_postgresql():
        for statement in plpgsql_trigger(name, event, table, body):
            op.execute(statement)
    else:
        op.execute(f"CREATE TRIGGER {name} {event} ON {table} BEGIN {body}; END")


def drop_trigger(name: str, table: str) -> None:
    if is_postgresql():
        for statement in drop_plpgsql_trigger(name, table):
            op.execute(statement)
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
