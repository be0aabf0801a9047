"""kohya sd-scripts dataset configs (`--dataset_config`), one per kohya format, one subset per concept.

Read by sd-scripts `library/config_util.py` (`ConfigSanitizer`, `BlueprintGenerator`): a dataset
is DreamBooth when no subset has `metadata_file` and fine-tuning when all do, so the folder export
(`kohya`) gets `dataset_config.toml` with DreamBooth subsets (`image_dir`, `num_repeats`,
`class_tokens`, `is_reg`, `keep_tokens`, `caption_extension`) and each metadata export gets its own
file with fine-tuning subsets (`image_dir`, `metadata_file`, `num_repeats`, `keep_tokens`). The
fine-tuning schema has no regularisation, so regularisation concepts are left out of those.

sd-scripts resolves relative paths against the working directory; paths are relative to the export
folder (run the trainer from there) unless `--full-path`.
"""

from __future__ import annotations

from pathlib import Path

import tomlkit
from tomlkit.items import Table

from lorairo.errors import ValidationError
from lorairo.export.item import ExportItem
from lorairo.export.kohya_metadata import JSONL_NAME, KOHYA_METADATA_NAME
from lorairo.export.options import ExportOptions
from lorairo.export.staging import Staging
from lorairo.export.streams import metadata_name
from lorairo.export.tag_selection import KEEP_TOKENS_SEPARATOR

DATASET_TOML_NAME = "dataset_config.toml"
TOML_NAMES = {
    "kohya": DATASET_TOML_NAME,
    "kohya-json": "dataset_config_json.toml",
    "jsonl": "dataset_config_jsonl.toml",
}
DEFAULT_TRAINING_RESOLUTION = 1024


def check_dataset_toml(options: ExportOptions) -> None:
    if options.dataset_toml and not set(TOML_NAMES) & set(options.formats):
        raise ValidationError(
            "--dataset-toml describes a kohya, kohya-json or jsonl export; add one of those"
        )


def _subset(options: ExportOptions, fmt: str, target: Path) -> list[Table]:
    subsets = []
    for concept in options.plan:
        concept_options = options.for_concept(concept)
        subset = tomlkit.table()
        subset["image_dir"] = options.config_path(options.folder_of(concept), target)
        if fmt == "kohya":
            subset["num_repeats"] = concept.repeats
            subset["is_reg"] = concept.is_reg
            subset["keep_tokens"] = concept_options.effective_keep_tokens
            subset["caption_extension"] = options.caption_extension
            class_tokens = concept.class_tokens or " ".join(concept_options.trigger)
            if class_tokens:
                subset["class_tokens"] = class_tokens
        elif concept.is_reg:
            continue
        else:
            base = KOHYA_METADATA_NAME if fmt == "kohya-json" else JSONL_NAME
            subset["metadata_file"] = options.config_path(metadata_name(base, concept, options), target)
            subset["num_repeats"] = concept.repeats
            subset["keep_tokens"] = concept_options.effective_keep_tokens
        if options.keep_tokens_separator:
            subset["keep_tokens_separator"] = KEEP_TOKENS_SEPARATOR
        subsets.append(subset)
    return subsets


def render_dataset_toml(options: ExportOptions, fmt: str, target: Path) -> str:
    resolution = options.resolution or DEFAULT_TRAINING_RESOLUTION
    document = tomlkit.document()
    document.add(tomlkit.comment("kohya-ss sd-scripts dataset config written by LoRAIro"))
    if not options.full_path:
        document.add(tomlkit.comment("paths are relative to this folder: run the trainer from here"))
    general = tomlkit.table()
    general["shuffle_caption"] = options.text_mode == "tags"
    general["caption_extension"] = options.caption_extension
    general["keep_tokens"] = options.effective_keep_tokens
    document["general"] = general

    dataset = tomlkit.table()
    dataset["resolution"] = resolution
    dataset["batch_size"] = 1
    dataset["enable_bucket"] = True
    dataset["min_bucket_reso"] = 256
    dataset["max_bucket_reso"] = resolution * 2
    dataset["bucket_reso_steps"] = 64
    dataset["bucket_no_upscale"] = True
    subsets = tomlkit.aot()
    for subset in _subset(options, fmt, target):
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
        """The config describes the folders, not individual images."""

    def close(self) -> None:
        for fmt in self.options.formats:
            if fmt in TOML_NAMES:
                text = render_dataset_toml(self.options, fmt, self.staging.target)
                self.staging.write_text(TOML_NAMES[fmt], text)
