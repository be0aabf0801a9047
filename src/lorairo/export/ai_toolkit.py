"""ostris ai-toolkit: image + `<stem>.txt` folders and a `datasets:` YAML snippet to paste into a
training config.

Follows ai-toolkit `toolkit/config_modules.py` `DatasetConfig`: `folder_path`, `caption_ext`
(given without the dot, as the example configs do), `resolution` (a list of bucket sizes),
`num_repeats`, `is_reg`, and `trigger_word`, which replaces `[trigger]` in captions
(`toolkit/prompt_utils.py`) when `--trigger-placeholder` writes that placeholder. Images are PNG or
JPEG only (see `safe_images`). The YAML is written by hand with JSON-quoted strings, which YAML
reads as plain scalars, so no YAML library is needed at run time.
"""

from __future__ import annotations

import json

from lorairo.export.dataset_toml import DEFAULT_TRAINING_RESOLUTION
from lorairo.export.item import ExportItem
from lorairo.export.options import ExportOptions
from lorairo.export.staging import Staging

AI_TOOLKIT_NAME = "ai_toolkit_datasets.yaml"


def render_yaml(options: ExportOptions, staging: Staging) -> str:
    resolution = options.resolution or DEFAULT_TRAINING_RESOLUTION
    lines = ["# ai-toolkit dataset entries written by LoRAIro: paste under config.process[0]", "datasets:"]
    for concept in options.plan:
        path = options.config_path(options.folder_of(concept), staging.target)
        lines += [
            f"  - folder_path: {json.dumps(path, ensure_ascii=False)}",
            '    caption_ext: "txt"',
            f"    resolution: [{resolution}]",
            f"    num_repeats: {concept.repeats}",
            f"    is_reg: {'true' if concept.is_reg else 'false'}",
        ]
        trigger = options.for_concept(concept).trigger
        if options.trigger_placeholder and trigger:
            lines.append(f"    trigger_word: {json.dumps(', '.join(trigger), ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


class AiToolkitWriter:
    def __init__(self, staging: Staging, options: ExportOptions) -> None:
        self.staging = staging
        self.options = options

    def add(self, item: ExportItem) -> None:
        """The snippet describes folders; captions are the shared sidecars."""

    def close(self) -> None:
        self.staging.write_text(AI_TOOLKIT_NAME, render_yaml(self.options, self.staging))
