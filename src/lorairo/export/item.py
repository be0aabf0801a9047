"""The unit every format writer receives: one exported image and its text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lorairo.export.tag_selection import ImageText


@dataclass(frozen=True)
class ExportItem:
    image_id: int
    stem: str
    file_name: str
    width: int
    height: int
    text: ImageText


class FormatWriter(Protocol):
    """Writes one format's files into the staging folder as items arrive, then finishes on close."""

    def add(self, item: ExportItem) -> None: ...

    def close(self) -> None: ...
