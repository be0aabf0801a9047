"""A WD tagger's `selected_tags.csv`: `tag_id,name,category,count` with a header.

Category 9 rows are the rating labels (general/sensitive/...), which are ratings rather than
vocabulary, so they are not imported.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from genai_tag_db_tools.db.builder import MalformedLine, Record, TagRecord
from genai_tag_db_tools.importers.text_files import text_lines

CATEGORIES = {0: "general", 1: "artist", 3: "copyright", 4: "character", 5: "meta"}
RATING_CATEGORY = 9


def read_wd_selected_tags(path: Path) -> Iterator[Record]:
    with text_lines(path) as lines:
        reader = csv.DictReader(lines)
        for row in reader:
            name = (row.get("name") or "").strip()
            try:
                category = int(row.get("category") or 0)
                count = int(float(row.get("count") or 0))
            except ValueError:
                yield MalformedLine(reader.line_num, ",".join(str(v) for v in row.values())[:80])
                continue
            if not name or category == RATING_CATEGORY:
                continue
            yield TagRecord(
                name, format="danbooru", type=CATEGORIES.get(category, "general"), usage_count=count
            )
