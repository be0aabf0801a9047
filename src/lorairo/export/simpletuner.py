"""SimpleTuner: `multidatabackend.json`, one local image backend per concept plus the default
text-embeds backend.

Follows SimpleTuner `documentation/DATALOADER.md`: `id`, `type` "local", `dataset_type` "image",
`instance_data_dir`, `caption_strategy` "textfile" (the `<stem>.txt` beside each image),
`resolution` with `resolution_type` "pixel_area", `cache_dir_vae`, `repeats` (SimpleTuner counts
extra passes, so kohya's N repeats is N - 1 there), `is_regularisation_data` for regularisation
concepts, and one `dataset_type` "text_embeds" backend with `default` true and its `cache_dir`.

With `--simpletuner-captions parquet` a backend instead reads its captions and image sizes from a
JSON Lines table (`caption_strategy` and `metadata_backend` "parquet", the `parquet` block's
`path`, `filename_column`, `caption_column`, `width_column`, `height_column`,
`identifier_includes_extension`), so SimpleTuner need not open every image to bucket it
("Parquet caption strategy" in the same document).
"""

from __future__ import annotations

import json
from typing import Any

from lorairo.export.concepts import Concept
from lorairo.export.dataset_toml import DEFAULT_TRAINING_RESOLUTION
from lorairo.export.item import ExportItem
from lorairo.export.options import ExportOptions
from lorairo.export.staging import Staging
from lorairo.export.streams import ConceptStreams, metadata_name

SIMPLETUNER_NAME = "multidatabackend.json"
CAPTIONS_NAME = "simpletuner_captions.jsonl"
CACHE = "cache"


def _parquet(options: ExportOptions, concept: Concept, staging: Staging) -> dict[str, Any]:
    return {
        "caption_strategy": "parquet",
        "metadata_backend": "parquet",
        "parquet": {
            "path": options.config_path(metadata_name(CAPTIONS_NAME, concept, options), staging.target),
            "filename_column": "filename",
            "caption_column": "caption",
            "width_column": "width",
            "height_column": "height",
            "identifier_includes_extension": True,
        },
    }


def render_backends(options: ExportOptions, staging: Staging) -> list[dict[str, Any]]:
    resolution = options.resolution or DEFAULT_TRAINING_RESOLUTION
    backends: list[dict[str, Any]] = [
        {
            "id": concept.name,
            "type": "local",
            "dataset_type": "image",
            "instance_data_dir": options.config_path(options.folder_of(concept), staging.target),
            "caption_strategy": "textfile",
            **(_parquet(options, concept, staging) if options.simpletuner_captions == "parquet" else {}),
            "resolution": resolution,
            "resolution_type": "pixel_area",
            "cache_dir_vae": options.config_path(f"{CACHE}/vae/{concept.name}", staging.target),
            "repeats": concept.repeats - 1,
            "is_regularisation_data": concept.is_reg,
        }
        for concept in options.plan
    ]
    backends.append(
        {
            "id": "text-embeds",
            "type": "local",
            "dataset_type": "text_embeds",
            "default": True,
            "cache_dir": options.config_path(f"{CACHE}/text", staging.target),
        }
    )
    return backends


class SimpleTunerWriter(ConceptStreams):
    """The backends describe folders; captions are the shared sidecars, or in parquet mode one
    `{"filename", "caption", "width", "height"}` line per image."""

    base = CAPTIONS_NAME

    def add(self, item: ExportItem) -> None:
        if self.options.simpletuner_captions != "parquet":
            return
        record = {
            "filename": item.file_name,
            "caption": item.text.primary_text(item.options) or "",
            "width": item.width,
            "height": item.height,
        }
        self.stream(item).write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        for stream in self.streams.values():
            stream.close()
        text = json.dumps(render_backends(self.options, self.staging), ensure_ascii=False, indent=2)
        self.staging.write_text(SIMPLETUNER_NAME, text + "\n")
