"""Unique, filesystem-safe file stems for an export laid out flat in one folder.

Originals from different folders often share a name (`a/001.jpg`, `b/001.jpg`); flattening them
must never let one overwrite another, on case-insensitive file systems included.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePath
from typing import Literal

Naming = Literal["stem", "id", "sequence"]
"""How exported files are named: the original's stem, the image id, or a running number."""

MAX_STEM_BYTES = 150
_UNSAFE = re.compile(r"[^\w\-. ()\[\]]+")
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
)


def safe_stem(name: str) -> str:
    """A stem that is valid on Windows, macOS and Linux: no separators, controls or reserved names."""
    stem = unicodedata.normalize("NFC", PurePath(name).stem if name else "")
    stem = _UNSAFE.sub("_", stem).strip(" .")
    while len(stem.encode("utf-8")) > MAX_STEM_BYTES:
        stem = stem[:-1]
    stem = stem.rstrip(" .")
    if not stem:
        return "image"
    if stem.split(".")[0].casefold() in _WINDOWS_RESERVED:
        return f"{stem}_"
    return stem


class NameAllocator:
    """Hands out one stem per image; a taken stem gets `_2`, `_3`, ... (compared case-insensitively)."""

    def __init__(self, mode: Naming, total: int | None = None) -> None:
        self.mode = mode
        self._used: set[str] = set()
        self._sequence = 0
        self._width = max(6, len(str(total or 0)))

    def allocate(self, image_id: int, original_name: str) -> str:
        if self.mode == "id":
            base = str(image_id)
        elif self.mode == "sequence":
            self._sequence += 1
            base = str(self._sequence).zfill(self._width)
        else:
            base = safe_stem(original_name)
        stem = base
        counter = 1
        while stem.casefold() in self._used:
            counter += 1
            stem = f"{base}_{counter}"
        self._used.add(stem.casefold())
        return stem
