"""SimpleTuner: `multidatabackend.json`, one local image backend per concept plus the default
text-embeds backend.

Follows SimpleTuner `documentation/DATALOADER.md`: `id`, `type` "local", `dataset_type` "image",
`instance_data_dir`, `caption_strategy` "textfile" (the `<stem>.txt` beside each image),
`resolution` with `resolution_type` "pixel_area", `cache_dir_vae`, `repeats` (SimpleTuner counts
extra passes, so kohya's N repeats is N - 1 there), `is_regularisation_data` for regularisation
concepts, and one `dataset_type` "text_embeds" backend with `default` true and its `cache_dir`.
"""

from __future__ import annotations

import json
from typing import Any

from lorairo.export.dataset_toml import DEFAULT_TRAINING_RESOLUTION
from lorairo.export.item import ExportItem
from lorairo.export.options import ExportOptions
from lorairo.export.staging import Staging

SIMPLETUNER_NAME = "multidatabackend.json"
CACHE = "cache"


def render_backends(options: ExportOptions, staging: Staging) -> list[dict[str, Any]]:
    resolution = options.resolution or DEFAULT_TRAINING_RESOLUTION
    backends: list[dict[str, Any]] = [
        {
            "id": concept.name,
            "type": "local",
            "dataset_type": "image",
            "instance_data_dir": options.config_path(options.folder_of(concept), staging.target),
            "caption_strategy": "textfile",
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


class SimpleTunerWriter:
    def __init__(self, staging: Staging, options: ExportOptions) -> None:
        self.staging = staging
        self.options = options

    def add(self, item: ExportItem) -> None:
        """The backends describe folders; captions are the shared sidecars."""

    def close(self) -> None:
        text = json.dumps(render_backends(self.options, self.staging), ensure_ascii=False, indent=2)
        self.staging.write_text(SIMPLETUNER_NAME, text + "\n")
