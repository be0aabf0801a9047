"""Opening a CSV importer's input: UTF-8 text, or a clear error naming the file and byte.

A PNG or a Latin-1 file given as a CSV would otherwise surface as a bare `UnicodeDecodeError`
halfway through an import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from genai_tag_db_tools.db.database import TagDatabaseError

_SNIFF_BYTES = 8192


class UnreadableSourceError(TagDatabaseError):
    """The input file is binary or not UTF-8, so it cannot be the text format asked for."""


@contextmanager
def text_lines(path: Path) -> Iterator[Iterator[str]]:
    """The file's lines as text; binary or non-UTF-8 content raises `UnreadableSourceError`."""
    with path.open("rb") as raw:
        head = raw.read(_SNIFF_BYTES)
    if b"\x00" in head:
        raise UnreadableSourceError(f"{path} is a binary file, not a CSV text file")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield _decoded(handle, path)


def _decoded(handle: Iterator[str], path: Path) -> Iterator[str]:
    line = 0
    try:
        for line, text in enumerate(handle, start=1):  # noqa: B007 - `line` is read in the handler
            yield text
    except UnicodeDecodeError as exc:
        raise UnreadableSourceError(
            f"{path} is not UTF-8 text (undecodable byte 0x{exc.object[exc.start]:02x} after line {line}); "
            "re-save it as UTF-8"
        ) from None
