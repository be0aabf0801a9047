"""Copy a project's rows from one engine to the other, and prove the copy equal.

The target is migrated to the head first and must be empty; every table is copied in
foreign-key order inside one write transaction on the target, so a failure leaves it as it was
(all or nothing). The source is only read. Derived state (`tag_vocabulary`, the decision
mirrors on `tags`, `is_effective`) is rebuilt by the target's own triggers from the copied rows
and then compared like everything else. Checksums hash every row in primary-key order, with
values normalised (booleans as 0/1, datetimes as ISO text), so SQLite and PostgreSQL agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select
from sqlalchemy.orm import Session

from lorairo.database.dialect import fold, sync_id_sequences
from lorairo.database.schema import Base
from lorairo.errors import DatabaseError

# Rows the target's triggers derive from other tables; compared, never copied.
DERIVED = frozenset({"tag_vocabulary"})
# Rows a migration seeds in every new database (the change feed's counter): replaced by the source's.
SEEDED = frozenset({"store_changes"})
CHUNK = 5_000


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"rows": self.rows, "checksums": self.checksums}


def _normal(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return value


def _order(table: Table) -> list[Any]:
    return list(table.primary_key.columns) or list(table.columns)


def table_checksum(connection: Connection, table: Table) -> tuple[int, str]:
    """(rows, sha256 of the rows in key order), the same on both engines. The vocabulary is
    compared as its set of folded tags: which spelling it keeps depends on insertion history."""
    digest = hashlib.sha256()
    if table.name == "tag_vocabulary":
        tags = sorted(fold(tag) for tag in connection.execute(select(table.c.tag)).scalars())
        digest.update(repr(tags).encode())
        return len(tags), digest.hexdigest()
    count = 0
    for row in connection.execute(select(table).order_by(*_order(table))).yield_per(CHUNK):
        digest.update(repr(tuple(_normal(value) for value in row)).encode())
        count += 1
    return count, digest.hexdigest()


def copy_store(
    source: Session,
    target: Session,
    target_name: str,
    progress: Callable[[str, int], None] | None = None,
) -> CopyReport:
    """Copy every row read in `source` into the empty store of `target`, then verify counts and
    checksums. `target` is the caller's one write transaction: a difference raises before it
    commits, so a failed copy writes nothing. `target_name` names the store in errors."""
    tables = list(Base.metadata.sorted_tables)
    connection = target.connection()
    for table in tables:
        if table.name in SEEDED:
            connection.execute(delete(table))
        elif connection.execute(select(func.count()).select_from(table)).scalar_one():
            raise DatabaseError(f"{target_name} is not empty ({table.name} has rows)")
    reader = source.connection()
    for table in tables:
        if table.name in DERIVED:
            continue
        copied = 0
        result = reader.execute(select(table).order_by(*_order(table))).yield_per(CHUNK)
        for chunk in result.partitions(CHUNK):
            connection.execute(insert(table), [dict(row._mapping) for row in chunk])
            copied += len(chunk)
            if progress is not None:
                progress(table.name, copied)
    sync_id_sequences(connection, tables)
    # Verified before the caller commits: a difference rolls the whole copy back.
    report = CopyReport()
    for table in tables:
        expected = table_checksum(reader, table)
        got = table_checksum(connection, table)
        if expected != got:
            raise DatabaseError(
                f"copy differs in {table.name}: {expected[0]} rows -> {got[0]} rows "
                "(checksums differ); nothing was written and the source is unchanged"
            )
        report.rows[table.name], report.checksums[table.name] = expected
    return report
