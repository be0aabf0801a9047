"""One output file per concept, for the metadata formats that list images (kohya-json, jsonl,
SimpleTuner's parquet captions); a plain export keeps the bare base name."""

from __future__ import annotations

from lorairo.export.concepts import Concept
from lorairo.export.item import ExportItem
from lorairo.export.options import ExportOptions
from lorairo.export.staging import HashingWriter, Staging


def metadata_name(base: str, concept: Concept, options: ExportOptions) -> str:
    """`<base>` for a plain export; `<stem>_<concept>.<ext>` per concept."""
    if not options.concepts:
        return base
    stem, _, extension = base.rpartition(".")
    return f"{stem}_{concept.name}.{extension}"


class ConceptStreams:
    """One output stream per concept, opened when its first image arrives."""

    base = ""

    def __init__(self, staging: Staging, options: ExportOptions) -> None:
        self.staging = staging
        self.options = options
        self.streams: dict[str, HashingWriter] = {}
        self.counts: dict[str, int] = {}

    def stream(self, item: ExportItem) -> HashingWriter:
        name = item.concept.name
        if name not in self.streams:
            self.streams[name] = self.staging.open_stream(
                metadata_name(self.base, item.concept, self.options)
            )
            self.counts[name] = 0
        self.counts[name] += 1
        return self.streams[name]

    def image_key(self, item: ExportItem) -> str:
        return (self.staging.target / item.path).as_posix() if self.options.full_path else item.file_name
