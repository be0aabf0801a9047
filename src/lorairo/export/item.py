"""The unit every format writer receives: one exported image and its text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lorairo.export.concepts import Concept, join
from lorairo.export.options import ExportOptions
from lorairo.export.tag_selection import ImageText


@dataclass(frozen=True)
class ExportItem:
    """`folder` is the concept's folder relative to the export root; `options` are the export's
    options with the concept's own trigger words."""

    image_id: int
    stem: str
    file_name: str
    width: int
    height: int
    text: ImageText
    concept: Concept
    folder: str
    options: ExportOptions

    @property
    def path(self) -> str:
        """The image's path relative to the export root."""
        return join(self.folder, self.file_name)


class FormatWriter(Protocol):
    """Writes one format's files into the staging folder as items arrive, then finishes on close."""

    def add(self, item: ExportItem) -> None: ...

    def close(self) -> None: ...
