"""sd-scripts fine-tuning metadata: `{"<image key>": {"caption": ..., "tags": ...}}`.

sd-scripts trains on `caption, tags` (either alone when the other is absent), so an absent value
is left out rather than written empty, and the trigger words ride on whichever comes first.
"""

from __future__ import annotations

import json
from pathlib import Path

from lorairo.export.item import ExportItem
from lorairo.export.options import ExportOptions
from lorairo.export.staging import Staging

KOHYA_METADATA_NAME = "kohya_metadata.json"


def image_key(item: ExportItem, options: ExportOptions, target: Path) -> str:
    """sd-scripts' key: the stem, or with `--full-path` the image's final absolute path."""
    return str(target / item.file_name) if options.full_path else item.stem


class KohyaMetadataWriter:
    def __init__(self, staging: Staging, options: ExportOptions) -> None:
        self.options = options
        self.target = staging.target
        self.stream = staging.open_stream(KOHYA_METADATA_NAME)
        self.count = 0

    def add(self, item: ExportItem) -> None:
        key = json.dumps(image_key(item, self.options, self.target), ensure_ascii=False)
        value = json.dumps(item.text.metadata_fields(self.options), ensure_ascii=False)
        self.stream.write(("{\n  " if self.count == 0 else ",\n  ") + f"{key}: {value}")
        self.count += 1

    def close(self) -> None:
        self.stream.write("{}\n" if self.count == 0 else "\n}\n")
        self.stream.close()
