"""The store's one convention, checked mechanically: repositories take a Session, services own
transactions (docs/architecture.md, "The store: two engines, one convention").

Only `database/engine.py` makes sessions and transactions. Every other module of
`lorairo.database` works inside a session its caller opened: it never calls `read_session` /
`write_session`, builds a `sessionmaker` or `Session`, opens a connection or transaction, or
commits and rolls back; and no repository keeps a `Database` to open sessions with later.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lorairo.database

DATABASE = Path(lorairo.database.__file__).parent
SESSION_FACTORY = DATABASE / "engine.py"
# Calls that open or end a unit of work: only the session factory and the services make them.
FORBIDDEN_METHODS = {
    "read_session",
    "write_session",
    "commit",
    "rollback",
    "begin",
    "begin_nested",
    "connect",
}
FORBIDDEN_CONSTRUCTORS = {"Session", "sessionmaker", "scoped_session"}


def _modules() -> list[Path]:
    return sorted(
        path
        for path in DATABASE.rglob("*.py")
        if path != SESSION_FACTORY and "migrations" not in path.relative_to(DATABASE).parts
    )


def violations(source: str) -> list[str]:
    """Each call that opens or ends a unit of work, and each `self.database = ...`, as 'line: what'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_METHODS:
                found.append(f"{node.lineno}: .{func.attr}()")
            elif isinstance(func, ast.Name) and func.id in FORBIDDEN_CONSTRUCTORS:
                found.append(f"{node.lineno}: {func.id}()")
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "database"
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                ):
                    found.append(f"{node.lineno}: self.database = ...")
    return found


def test_the_checker_finds_what_it_forbids() -> None:
    """The check itself can fail: each forbidden shape is caught, a session parameter is not."""
    bad = """
class Repo:
    def __init__(self, database):
        self.database = database
    def count(self):
        with self.database.read_session() as session:
            return session.scalar(q)
def write(database):
    with database.write_session(shared=True) as session:
        session.commit()
factory = sessionmaker(engine)
"""
    assert sorted(v.split(": ", 1)[1] for v in violations(bad)) == [
        ".commit()",
        ".read_session()",
        ".write_session()",
        "self.database = ...",
        "sessionmaker()",
    ]
    assert violations("def count(session, ids):\n    return session.scalar(q)\n") == []


@pytest.mark.parametrize("path", _modules(), ids=lambda path: path.name)
def test_database_modules_work_inside_the_callers_session(path: Path) -> None:
    found = violations(path.read_text(encoding="utf-8"))
    assert not found, (
        f"{path.name} opens or ends its own unit of work: {found}. Take a `session: Session` "
        "argument and let the service open the transaction (see docs/architecture.md)."
    )
