"""Importers: each reads one file format as a stream of records; `import_records` builds the base."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from genai_tag_db_tools.db.builder import ImportReport, Record, build_base
from genai_tag_db_tools.db.database import TagDatabase, TagDatabaseError
from genai_tag_db_tools.importers.genai_sqlite import read_genai_sqlite
from genai_tag_db_tools.importers.tagcomplete_csv import read_tagcomplete_csv
from genai_tag_db_tools.importers.wd_selected_tags import read_wd_selected_tags

FileFormat = Literal["tagcomplete", "wd-csv", "sqlite"]
FILE_FORMATS: tuple[FileFormat, ...] = ("tagcomplete", "wd-csv", "sqlite")


def import_records(
    database: TagDatabase,
    records: Iterable[Record],
    *,
    source: str,
    replace: bool = True,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Build a new base from `records` and swap it in; with `replace=False` the old base is extended.

    The user overlay is never touched, so user aliases survive either way.
    """
    reports: list[ImportReport] = []

    def build(path: Path) -> None:
        copy_from = None if replace else database.base_path
        reports.append(build_base(path, records, source=source, copy_from=copy_from, on_progress=on_progress))

    database.replace_base(build)
    return reports[0]


def detect_format(path: Path) -> FileFormat:
    """Guess the file format from the name and first line, for `import` without `--format`."""
    with path.open("rb") as handle:
        head = handle.read(64)
    if head.startswith(b"SQLite format 3"):
        return "sqlite"
    first_line = head.decode("utf-8", errors="replace").lstrip("\ufeff").split("\n", 1)[0].lower()
    if first_line.startswith("tag_id,name,category"):
        return "wd-csv"
    return "tagcomplete"


def read_file(path: Path, file_format: FileFormat, *, tag_format: str = "danbooru") -> Iterable[Record]:
    if not path.is_file():
        raise TagDatabaseError(f"no such file: {path}")
    if file_format == "tagcomplete":
        return read_tagcomplete_csv(path, tag_format=tag_format)
    if file_format == "wd-csv":
        return read_wd_selected_tags(path)
    if file_format == "sqlite":
        return read_genai_sqlite(path)
    raise TagDatabaseError(f"unknown file format {file_format!r}; use one of {', '.join(FILE_FORMATS)}")


__all__ = [
    "FILE_FORMATS",
    "FileFormat",
    "ImportReport",
    "detect_format",
    "import_records",
    "read_file",
    "read_genai_sqlite",
    "read_tagcomplete_csv",
    "read_wd_selected_tags",
]
