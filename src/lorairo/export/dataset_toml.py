"""A kohya sd-scripts dataset config (`--dataset_config`) that points at the finished export.

The paths are the final target's, not the staging folder's, because the file is only read after
the export has been moved into place.
"""

from __future__ import annotations

import tomlkit

from lorairo.errors import ValidationError
from lorairo.export.item import ExportItem
from lorairo.export.kohya_metadata import KOHYA_METADATA_NAME
from lorairo.export.options import ExportOptions
from lorairo.export.staging import Staging
from lorairo.export.tag_selection import KEEP_TOKENS_SEPARATOR

DATASET_TOML_NAME = "dataset_config.toml"
DEFAULT_TRAINING_RESOLUTION = 1024


def check_dataset_toml(options: ExportOptions) -> None:
    if options.dataset_toml and not {"kohya", "kohya-json"} & set(options.formats):
        raise ValidationError(
            "--dataset-toml describes a kohya or kohya-json export; add one of those formats"
        )


def render_dataset_toml(options: ExportOptions, image_dir: str) -> str:
    resolution = options.resolution or DEFAULT_TRAINING_RESOLUTION
    document = tomlkit.document()
    document.add(tomlkit.comment("kohya-ss sd-scripts dataset config written by LoRAIro"))
    general = tomlkit.table()
    general["shuffle_caption"] = options.text_mode == "tags"
    general["caption_extension"] = options.caption_extension
    general["keep_tokens"] = options.effective_keep_tokens
    document["general"] = general

    subset = tomlkit.table()
    subset["image_dir"] = image_dir
    subset["num_repeats"] = options.num_repeats
    subset["keep_tokens"] = options.effective_keep_tokens
    if "kohya" in options.formats:
        subset["caption_extension"] = options.caption_extension
        if options.trigger:
            subset["class_tokens"] = " ".join(options.trigger)
    else:
        subset["metadata_file"] = f"{image_dir}/{KOHYA_METADATA_NAME}"
    if options.keep_tokens_separator:
        subset["keep_tokens_separator"] = KEEP_TOKENS_SEPARATOR

    dataset = tomlkit.table()
    dataset["resolution"] = resolution
    dataset["batch_size"] = 1
    dataset["enable_bucket"] = True
    dataset["min_bucket_reso"] = 256
    dataset["max_bucket_reso"] = resolution * 2
    dataset["bucket_reso_steps"] = 64
    dataset["bucket_no_upscale"] = True
    subsets = tomlkit.aot()
    subsets.append(subset)
    dataset["subsets"] = subsets
    datasets = tomlkit.aot()
    datasets.append(dataset)
    document["datasets"] = datasets
    return tomlkit.dumps(document)


class DatasetTomlWriter:
    def __init__(self, staging: Staging, options: ExportOptions) -> None:
        check_dataset_toml(options)
        self.staging = staging
        self.options = options

    def add(self, item: ExportItem) -> None:
        """The config describes the folder, not individual images."""

    def close(self) -> None:
        text = render_dataset_toml(self.options, self.staging.target.as_posix())
        self.staging.write_text(DATASET_TOML_NAME, text)
