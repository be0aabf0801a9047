"""A Hugging Face `imagefolder`: the images plus `metadata.jsonl` keyed by `file_name`.

`datasets.load_dataset("imagefolder", data_dir=DIR)` reads it as is, with columns image, tags,
caption, score (0-10) and rating. The kohya sidecars and other JSON files beside it are ignored
by the loader, so one export folder can serve several formats.
"""

from __future__ import annotations

import json

from lorairo.export.item import ExportItem
from lorairo.export.options import ExportOptions
from lorairo.export.staging import Staging

HF_METADATA_NAME = "metadata.jsonl"


class HfImagefolderWriter:
    def __init__(self, staging: Staging, options: ExportOptions) -> None:
        self.options = options
        self.stream = staging.open_stream(HF_METADATA_NAME)

    def add(self, item: ExportItem) -> None:
        record = {
            "file_name": item.file_name,
            "tags": item.text.tags_text(self.options),
            "caption": item.text.caption,
            "score": item.text.score,
            "rating": item.text.rating,
        }
        self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.stream.close()
