"""Importers: each reads one file format as a stream of records; `import_records` builds the base."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from genai_tag_db_tools.db.builder import ImportReport, Record, build_base
from genai_tag_db_tools.db.database import TagDatabase, TagDatabaseError
from genai_tag_db_tools.importers.genai_sqlite import read_genai_sqlite
from genai_tag_db_tools.importers.tagcomplete_csv import read_tagcomplete_csv
from genai_tag_db_tools.importers.text_files import UnreadableSourceError
from genai_tag_db_tools.importers.wd_selected_tags import read_wd_selected_tags

FileFormat = Literal["tagcomplete", "wd-csv", "sqlite"]
FILE_FORMATS: tuple[FileFormat, ...] = ("tagcomplete", "wd-csv", "sqlite")
MAX_MALFORMED_FRACTION = 0.01
MIN_KEPT_FRACTION = 0.5


class ImportRefused(TagDatabaseError):
    """A built base failed its checks, so it was discarded and the active base kept."""


def check_import(report: ImportReport, previous_tags: int, *, force: bool = False) -> None:
    """Refuse a base that is empty, mostly unreadable, or far smaller than the one it replaces.

    `force` accepts a malformed or shrinking file; an empty base is never accepted.
    """
    if report.tags == 0:
        detail = f"; {report.malformed} malformed lines" if report.malformed else ""
        raise ImportRefused(f"{report.source} holds no tags{detail}; the tag database was not changed")
    if force:
        return
    if report.lines and report.malformed / report.lines > MAX_MALFORMED_FRACTION:
        examples = "; ".join(report.malformed_examples)
        raise ImportRefused(
            f"{report.source}: {report.malformed} of {report.lines} lines are malformed "
            f"(over {MAX_MALFORMED_FRACTION:.0%}), e.g. {examples}; the tag database was not changed "
            "(--force imports the readable lines)"
        )
    if previous_tags and report.tags < previous_tags * MIN_KEPT_FRACTION:
        raise ImportRefused(
            f"{report.source} has {report.tags:,} tags, under half of the current {previous_tags:,}; "
            "the tag database was not changed (--force replaces it anyway)"
        )


def import_records(
    database: TagDatabase,
    records: Iterable[Record],
    *,
    source: str,
    replace: bool = True,
    force: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Build a new base from `records` in a new file, check it (`check_import`), then swap it in;
    with `replace=False` the old base is extended.

    The user overlay is never touched, so user aliases survive either way; a refused or failed
    build leaves the active base as it was.
    """
    reports: list[ImportReport] = []
    previous_tags = database.stats()["tags"] if replace else 0

    def build(path: Path) -> None:
        copy_from = None if replace else database.base_path
        report = build_base(path, records, source=source, copy_from=copy_from, on_progress=on_progress)
        check_import(report, previous_tags, force=force)
        reports.append(report)

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
    "ImportRefused",
    "ImportReport",
    "UnreadableSourceError",
    "check_import",
    "detect_format",
    "import_records",
    "read_file",
    "read_genai_sqlite",
    "read_tagcomplete_csv",
    "read_wd_selected_tags",
]
