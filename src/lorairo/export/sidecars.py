"""Caption sidecars beside each image, the text source of every folder-based trainer.

- kohya-ss sd-scripts (`library/train_util.py`, `DreamBoothDataset.read_caption`): `<stem>` +
  `caption_extension`, first line only; `.caption` carries the caption in tags mode.
- OneTrainer (`modules/dataLoader/mixin/DataLoaderText2ImageMixin.py`, prompt source "sample"):
  `<stem>.txt`, one prompt per line, a random line is used.
- ai-toolkit (`toolkit/config_modules.py` `DatasetConfig.caption_ext`, default `.txt`); it replaces
  `[trigger]` in captions with the dataset's `trigger_word` (`toolkit/prompt_utils.py`), which
  `--trigger-placeholder` relies on.
- SimpleTuner `caption_strategy` "textfile" and diffusion-pipe (`utils/dataset.py`,
  `image_file.with_suffix('.txt')`): `<stem>.txt`.

The text is written once per image as one line; so every trainer trains on the same words.
"""

from __future__ import annotations

from dataclasses import replace

from lorairo.export.concepts import join
from lorairo.export.item import ExportItem
from lorairo.export.options import SIDECAR_FORMATS, ExportOptions
from lorairo.export.staging import Staging

TRIGGER_PLACEHOLDER = "[trigger]"


class SidecarWriter:
    """Text modes (kohya): `tags` writes `.txt` plus `.caption` when a caption exists; `caption`
    writes only `.caption` (trigger words first); `append` writes `.txt` with the caption after the
    tags. Trainers other than kohya read `.txt`, so it is also written in caption mode for them."""

    def __init__(self, staging: Staging, options: ExportOptions) -> None:
        self.staging = staging
        kohya = "kohya" in options.formats
        textfile = {"simpletuner"} if options.simpletuner_captions == "parquet" else set()
        others = bool(set(options.formats) & SIDECAR_FORMATS - {"kohya"} - textfile)
        self.extensions = [options.caption_extension] if kohya else []
        if others and ".txt" not in self.extensions:
            self.extensions.append(".txt")
        self.caption_file = kohya and options.text_mode == "tags"
        self.placeholder = options.trigger_placeholder
        self._placeholder_options: dict[str, ExportOptions] = {}

    def add(self, item: ExportItem) -> None:
        options, text = item.options, item.text
        if self.placeholder and options.trigger:
            text = replace(text, prefix=(TRIGGER_PLACEHOLDER, *text.prefix[len(options.trigger) :]))
            if item.concept.name not in self._placeholder_options:
                self._placeholder_options[item.concept.name] = replace(
                    options, trigger=(TRIGGER_PLACEHOLDER,)
                )
            options = self._placeholder_options[item.concept.name]
        primary = text.primary_text(options)
        if primary is not None:
            for extension in self.extensions:
                self.staging.write_text(join(item.folder, item.stem + extension), primary + "\n")
        if self.caption_file and text.caption:
            self.staging.write_text(join(item.folder, f"{item.stem}.caption"), text.caption + "\n")

    def close(self) -> None:
        """Nothing is buffered: every sidecar is written by `add`."""
