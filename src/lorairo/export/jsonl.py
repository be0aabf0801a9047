"""sd-scripts JSONL metadata: one `{"image_path", "caption", "tags", "image_size"}` per line."""

from __future__ import annotations

import json

from lorairo.export.item import ExportItem
from lorairo.export.options import ExportOptions
from lorairo.export.staging import Staging

JSONL_NAME = "kohya_metadata.jsonl"


class JsonlWriter:
    """Every key is always present (null when absent); `image_path` is relative to the export
    folder unless `--full-path`; `image_size` is `[width, height]` of the exported file."""

    def __init__(self, staging: Staging, options: ExportOptions) -> None:
        self.options = options
        self.target = staging.target
        self.stream = staging.open_stream(JSONL_NAME)

    def add(self, item: ExportItem) -> None:
        fields = item.text.metadata_fields(self.options)
        path = str(self.target / item.file_name) if self.options.full_path else item.file_name
        record = {
            "image_path": path,
            "caption": fields.get("caption"),
            "tags": fields.get("tags"),
            "image_size": [item.width, item.height],
        }
        self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.stream.close()
