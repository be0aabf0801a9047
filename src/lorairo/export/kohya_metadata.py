"""sd-scripts fine-tuning metadata, one file per concept: `{"<image key>": {"caption", "tags"}}`
(`kohya_metadata*.json`) and the JSON Lines form `{"image_path", "caption", "tags", "image_size"}`
(`kohya_metadata*.jsonl`).

sd-scripts (`library/train_util.py`, `FineTuningDataset.__init__`) joins the subset's `image_dir`
with each key as is (`os.path.join(subset.image_dir, image_key)`, no extension search), so a key is
the image's file name with its extension, relative to the concept folder that the dataset TOML
gives as `image_dir`; with `--full-path` it is absolute, and sd-scripts then uses it unchanged.
sd-scripts trains on `caption, tags` (either alone when the other is absent), so an absent value is
left out of the JSON rather than written empty, and the trigger words ride on whichever comes first.
"""

from __future__ import annotations

import json
from typing import Any

from lorairo.export.item import ExportItem
from lorairo.export.streams import ConceptStreams

KOHYA_METADATA_NAME = "kohya_metadata.json"
JSONL_NAME = "kohya_metadata.jsonl"


class KohyaMetadataWriter(ConceptStreams):
    """One JSON object per concept, streamed: `{"<file name>": {"caption", "tags"}, ...}`."""

    base = KOHYA_METADATA_NAME

    def add(self, item: ExportItem) -> None:
        stream = self.stream(item)
        key = json.dumps(self.image_key(item), ensure_ascii=False)
        value = json.dumps(item.text.metadata_fields(item.options), ensure_ascii=False)
        stream.write(("{\n  " if self.counts[item.concept.name] == 1 else ",\n  ") + f"{key}: {value}")

    def close(self) -> None:
        if not self.options.concepts and not self.streams:
            self.staging.write_text(KOHYA_METADATA_NAME, "{}\n")
        for stream in self.streams.values():
            stream.write("\n}\n")
            stream.close()


class JsonlWriter(ConceptStreams):
    """Every key is always present (null when absent); `image_size` is `[width, height]` of the
    exported file, so sd-scripts need not open the image to bucket it."""

    base = JSONL_NAME

    def add(self, item: ExportItem) -> None:
        fields = item.text.metadata_fields(item.options)
        record: dict[str, Any] = {
            "image_path": self.image_key(item),
            "caption": fields.get("caption"),
            "tags": fields.get("tags"),
            "image_size": [item.width, item.height],
        }
        self.stream(item).write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if not self.options.concepts and not self.streams:
            self.staging.write_text(JSONL_NAME, "")
        for stream in self.streams.values():
            stream.close()
