"""Pre-flight lint: what in an export would quietly waste a training run.

Findings, in the order they are reported (per concept, images in selection order):
- `no_text`: an image without any caption or tag (it is left out of the export);
- `trigger_missing`: the caption written beside the tags (kohya `.caption`, the hf `caption`
  column) lacks the concept's trigger words, which only the tag text carries;
- `clip_overflow`: the training text is longer than CLIP's 75-token window (see `tokens`);
- `too_small`: the image's long side is below the target resolution, so it will be upscaled;
- `same_tag_everywhere`: a tag on every image of a concept teaches nothing;
- `class_tokens_ignored`: kohya uses a folder's class tokens only for images without a caption
  file (sd-scripts `library/train_util.py`, `DreamBoothDataset.load_dreambooth_dir`), and every
  exported image has one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from lorairo.database.export_repository import ImageRecord
from lorairo.export.concepts import Concept
from lorairo.export.dataset_toml import DEFAULT_TRAINING_RESOLUTION
from lorairo.export.options import ExportOptions
from lorairo.export.tag_selection import ImageText, tag_key
from lorairo.export.tokens import CLIP_WINDOW, TokenCounter, default_counter

MIN_IMAGES_FOR_SAME_TAG = 2
# Findings kept per check; beyond it only `counts` grows, so a huge export's report stays small.
MAX_FINDINGS_PER_CODE = 200


@dataclass(frozen=True)
class Finding:
    code: str
    concept: str
    image_id: int | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Linter:
    def __init__(self, options: ExportOptions, counter: TokenCounter | None = None) -> None:
        self.options = options
        self.counter, self.counter_kind = (counter, "given") if counter else default_counter()
        self.target = options.resolution or DEFAULT_TRAINING_RESOLUTION
        self.findings: list[Finding] = []
        self.counts: Counter[str] = Counter()
        self._concept: Concept | None = None
        self._images = 0
        self._tags: Counter[str] = Counter()
        self._names: dict[str, str] = {}

    def image(self, concept: Concept, options: ExportOptions, record: ImageRecord, text: ImageText) -> None:
        """Check one selected image (exported or not) of `concept`."""
        if concept is not self._concept:
            self._finish_concept()
            self._concept = concept
        add = self._add
        if text.skip_reason(options):
            add("no_text", record.id, f"no caption or accepted tag ({text.skip_reason(options)})")
            return
        self._images += 1
        for tag in dict.fromkeys(tag_key(tag) for tag in text.tags):
            self._tags[tag] += 1
        for tag in text.tags:
            self._names.setdefault(tag_key(tag), tag)
        caption = text.caption
        if options.trigger and options.text_mode == "tags" and caption:
            folded = caption.casefold()
            missing = [word for word in options.trigger if word.casefold() not in folded]
            if missing:
                add("trigger_missing", record.id, f"caption lacks {', '.join(missing)}")
        primary = text.primary_text(options) or ""
        tokens = self.counter(primary)
        if tokens > CLIP_WINDOW:
            add("clip_overflow", record.id, f"{tokens} tokens ({self.counter_kind}) > {CLIP_WINDOW}")
        if max(record.width, record.height) < self.target:
            add("too_small", record.id, f"{record.width}x{record.height} < {self.target}")

    def _add(self, code: str, image_id: int | None, detail: str) -> None:
        assert self._concept is not None
        self.counts[code] += 1
        if self.counts[code] <= MAX_FINDINGS_PER_CODE:
            self.findings.append(Finding(code, self._concept.name, image_id, detail))

    def _finish_concept(self) -> None:
        concept = self._concept
        if concept is None:
            return
        if self._images >= MIN_IMAGES_FOR_SAME_TAG:
            for key, count in self._tags.items():
                if count == self._images:
                    self._add("same_tag_everywhere", None, f"{self._names[key]} is on all {count} images")
        if "kohya" in self.options.formats and concept.class_tokens and self._images:
            self._add(
                "class_tokens_ignored",
                None,
                f"kohya ignores class tokens {concept.class_tokens!r}: every image has a caption file",
            )
        self._images = 0
        self._tags.clear()
        self._names.clear()

    def finish(self) -> list[Finding]:
        self._finish_concept()
        self._concept = None
        return self.findings
