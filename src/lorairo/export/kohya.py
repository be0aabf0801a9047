"""kohya-ss sd-scripts sidecars: `<stem>.txt` tags (and `<stem>.caption`) beside each image."""

from __future__ import annotations

from lorairo.export.item import ExportItem
from lorairo.export.options import ExportOptions
from lorairo.export.staging import Staging


class KohyaWriter:
    """Text modes: `tags` writes `.txt` plus `.caption` when a caption exists; `caption` writes only
    `.caption` (trigger words first); `append` writes `.txt` with the caption after the tags."""

    def __init__(self, staging: Staging, options: ExportOptions) -> None:
        self.staging = staging
        self.options = options

    def add(self, item: ExportItem) -> None:
        text = item.text.primary_text(self.options)
        if text is not None:
            self.staging.write_text(item.stem + self.options.caption_extension, text + "\n")
        if self.options.text_mode == "tags" and item.text.caption:
            self.staging.write_text(f"{item.stem}.caption", item.text.caption + "\n")

    def close(self) -> None:
        """Nothing is buffered: every sidecar is written by `add`."""
