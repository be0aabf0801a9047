"""A Hugging Face `imagefolder`: images under `train/` plus `train/metadata.jsonl` keyed by `file_name`.

`datasets.load_dataset("imagefolder", data_dir=DIR)` reads it as the `train` split with columns
image, tags, caption, score (0-10) and rating (plus concept and is_reg when the export has
concepts). The metadata file sits in the split folder, not the root, because some `datasets`
versions ignore a root metadata file once a split folder exists (huggingface/datasets#6442);
`file_name` is relative to it. Kohya sidecars and other JSON files beside it are ignored by the
loader, so one export folder can serve several formats.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

from lorairo.export.concepts import HF_SPLIT, join
from lorairo.export.item import ExportItem
from lorairo.export.options import ExportOptions
from lorairo.export.staging import Staging

HF_METADATA_NAME = "metadata.jsonl"
HF_METADATA_PATH = join(HF_SPLIT, HF_METADATA_NAME)


class HfImagefolderWriter:
    def __init__(self, staging: Staging, options: ExportOptions) -> None:
        self.options = options
        (staging.path / HF_SPLIT).mkdir(exist_ok=True)
        self.stream = staging.open_stream(HF_METADATA_PATH)

    def add(self, item: ExportItem) -> None:
        record: dict[str, Any] = {
            "file_name": PurePosixPath(item.path).relative_to(HF_SPLIT).as_posix(),
            "tags": item.text.tags_text(item.options),
            "caption": item.text.caption,
            "score": item.text.score,
            "rating": item.text.rating,
        }
        if self.options.concepts:
            record["concept"] = item.concept.name
            record["is_reg"] = item.concept.is_reg
        self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.stream.close()
