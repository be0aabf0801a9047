"""The a1111-sd-webui-tagcomplete CSV: `name,type,post_count,"alias1,alias2"`, no header."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from genai_tag_db_tools.db.builder import MalformedLine, Record, TagRecord
from genai_tag_db_tools.importers.text_files import text_lines

# Category numbers differ between the two boorus; species/lore/invalid fold into the five types.
TYPE_CODES = {
    "danbooru": {0: "general", 1: "artist", 3: "copyright", 4: "character", 5: "meta"},
    "e621": {
        0: "general",
        1: "artist",
        3: "copyright",
        4: "character",
        5: "general",
        6: "meta",
        7: "meta",
        8: "meta",
    },
}


def read_tagcomplete_csv(path: Path, *, tag_format: str = "danbooru") -> Iterator[Record]:
    """One record per tag and one per alias (pointing at its tag); a malformed line is one
    `MalformedLine`, so the import can refuse a file that is mostly not this format."""
    codes = TYPE_CODES.get(tag_format, TYPE_CODES["danbooru"])
    with text_lines(path) as lines:
        for line_number, row in enumerate(csv.reader(lines), start=1):
            if not row or not row[0].strip():
                continue
            try:
                type_code = int(row[1]) if len(row) > 1 and row[1].strip() else 0
                count = int(float(row[2])) if len(row) > 2 and row[2].strip() else 0
            except ValueError:
                yield MalformedLine(line_number, ",".join(row[:3])[:80])
                continue
            name = row[0]
            tag_type = codes.get(type_code, "general")
            yield TagRecord(name, format=tag_format, type=tag_type, usage_count=count)
            aliases = row[3] if len(row) > 3 else ""
            for alias in aliases.split(","):
                if alias.strip():
                    yield TagRecord(alias, format=tag_format, type=tag_type, preferred=name)
