"""Tag and caption files written beside images by earlier tools, imported as `existing` annotations.

`<stem>.txt` holds comma-separated tags, `<stem>.caption` a caption. `sidecar_writes` is the one
place that decides which sidecar tags reach the database, so tag normalisation (aliases) lives in
one place; the registration service does the writing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from genai_tag_db_tools.cleaning import clean_tag

_MAX_SIDECAR_BYTES = 1_000_000


@dataclass(frozen=True)
class Sidecar:
    """Raw sidecar contents for one image; `tags` are exactly as written in the file."""

    tags: tuple[str, ...] = ()
    caption: str | None = None

    @property
    def empty(self) -> bool:
        return not self.tags and not self.caption


def _read_text(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > _MAX_SIDECAR_BYTES:
            return None
        return path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError:
        return None


def read_sidecar(image_path: Path) -> Sidecar:
    """Read `<stem>.txt` and `<stem>.caption` next to `image_path` (either may be missing)."""
    tags_text = _read_text(image_path.with_suffix(".txt"))
    caption_text = _read_text(image_path.with_suffix(".caption"))
    tags: tuple[str, ...] = ()
    if tags_text:
        parts = tags_text.replace("\n", ",").split(",")
        tags = tuple(part.strip() for part in parts if part.strip())
    caption = caption_text.strip() if caption_text and caption_text.strip() else None
    return Sidecar(tags=tags, caption=caption)


@dataclass(frozen=True)
class SidecarWrite:
    """What a sidecar adds to one image: `(tag, raw)` pairs in file order and a new caption."""

    tags: tuple[tuple[str, str], ...] = ()
    caption: str | None = None

    @property
    def empty(self) -> bool:
        return not self.tags and not self.caption


def sidecar_writes(
    sidecar: Sidecar,
    present_tags: set[str],
    caption_present: bool,
    preferred: Mapping[str, str] | None = None,
) -> SidecarWrite:
    """Decide what of a sidecar to store on an image, skipping what that image already has from
    sidecars (`present_tags`, casefolded; `caption_present`), so merging an exact duplicate's files
    or re-running adds nothing twice. `preferred` maps raw tags to the tag DB's preferred form when
    one is installed."""
    present = set(present_tags)
    rows: list[tuple[str, str]] = []
    for raw in sidecar.tags:
        tag = (preferred or {}).get(raw) or clean_tag(raw)
        if tag and tag.casefold() not in present:
            present.add(tag.casefold())
            rows.append((tag, raw))
    caption = sidecar.caption if sidecar.caption and not caption_present else None
    return SidecarWrite(tuple(rows), caption)
