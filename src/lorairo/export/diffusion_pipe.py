"""diffusion-pipe: a dataset TOML with aspect-ratio bucketing and one `[[directory]]` per concept.

Follows diffusion-pipe `examples/dataset.toml` and `utils/dataset.py` (captions are
`image_file.with_suffix('.txt')`): top-level `resolutions`, `enable_ar_bucket`, `min_ar`, `max_ar`,
`num_ar_buckets`, and per directory `path` and `num_repeats` (same meaning as sd-scripts).
diffusion-pipe has no regularisation mode, so a regularisation concept is an ordinary directory.
"""

from __future__ import annotations

import tomlkit

from lorairo.export.dataset_toml import DEFAULT_TRAINING_RESOLUTION
from lorairo.export.item import ExportItem
from lorairo.export.options import ExportOptions
from lorairo.export.staging import Staging

DIFFUSION_PIPE_NAME = "diffusion_pipe_dataset.toml"
MIN_AR = 0.5
MAX_AR = 2.0
AR_BUCKETS = 7


def render_toml(options: ExportOptions, staging: Staging) -> str:
    document = tomlkit.document()
    document.add(tomlkit.comment("diffusion-pipe dataset config written by LoRAIro"))
    document["resolutions"] = [options.resolution or DEFAULT_TRAINING_RESOLUTION]
    document["enable_ar_bucket"] = True
    document["min_ar"] = MIN_AR
    document["max_ar"] = MAX_AR
    document["num_ar_buckets"] = AR_BUCKETS
    directories = tomlkit.aot()
    for concept in options.plan:
        directory = tomlkit.table()
        directory["path"] = options.config_path(options.folder_of(concept), staging.target)
        directory["num_repeats"] = concept.repeats
        directories.append(directory)
    document["directory"] = directories
    return tomlkit.dumps(document)


class DiffusionPipeWriter:
    def __init__(self, staging: Staging, options: ExportOptions) -> None:
        self.staging = staging
        self.options = options

    def add(self, item: ExportItem) -> None:
        """The config describes folders; captions are the shared sidecars."""

    def close(self) -> None:
        self.staging.write_text(DIFFUSION_PIPE_NAME, render_toml(self.options, self.staging))
