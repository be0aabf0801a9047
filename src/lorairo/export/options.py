"""What an export does, validated once up front so a bad flag fails before any file is written."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, get_args

from genai_tag_db_tools.cleaning import clean_tag, lookup_key
from lorairo.errors import ValidationError
from lorairo.export.concepts import Concept, check_concepts, dataset_root, join
from lorairo.export.naming import Naming

ExportFormat = Literal[
    "kohya", "kohya-json", "jsonl", "hf", "onetrainer", "ai-toolkit", "simpletuner", "diffusion-pipe"
]
TextMode = Literal["tags", "caption", "append"]
TagOrder = Literal["manual", "confidence", "frequency", "alphabet"]
ImageFormat = Literal["webp", "png", "jpg"]
SimpleTunerCaptions = Literal["textfile", "parquet"]

FORMATS: tuple[str, ...] = get_args(ExportFormat)
# Formats that read a `<stem>.txt` (or kohya's chosen extension) beside each image.
SIDECAR_FORMATS = frozenset({"kohya", "onetrainer", "ai-toolkit", "simpletuner", "diffusion-pipe"})
RESOLUTIONS = (512, 768, 1024)
TAG_CATEGORIES = ("general", "character", "rating", "artist", "copyright", "meta")

# Score bands on a 0-10 scale (scores on other scales are normalised first), best band first.
DEFAULT_QUALITY_BANDS: tuple[tuple[float, str], ...] = (
    (8.5, "masterpiece"),
    (7.0, "best quality"),
    (5.5, "high quality"),
    (4.0, "normal quality"),
    (2.0, "low quality"),
    (0.0, "worst quality"),
)


def _check_choice(name: str, value: object, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        raise ValidationError(f"{name} must be one of {', '.join(map(str, allowed))}, got {value!r}")


@dataclass(frozen=True)
class ExportOptions:
    """Every choice of an export; `to_dict()` goes into the manifest so the export is reproducible.

    `caption` is `manual` (a manual caption when there is one, else the newest), `newest`, `none`,
    or a model name. `tags_from` names models (plus `existing` for imported sidecar tags); manual
    tags are always used because manual edits win.
    """

    target: Path | None = None
    formats: tuple[ExportFormat, ...] = ("kohya",)
    query: str | None = None
    ids: tuple[int, ...] | None = None
    resolution: int | None = None
    tags_from: tuple[str, ...] | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    max_tags: int | None = None
    order: TagOrder = "manual"
    character_first: bool = False
    trigger: tuple[str, ...] = ()
    keep_tokens: int | None = None
    keep_tokens_separator: bool = False
    rating_tag: bool = False
    quality_tags: bool = False
    quality_bands: tuple[tuple[float, str], ...] = DEFAULT_QUALITY_BANDS
    score_kind: str = "aesthetic"
    underscores: bool = False
    escape_parens: bool = False
    drop_meta: bool = False
    exclude_tags: tuple[str, ...] = ()
    replace_tags: dict[str, str] = field(default_factory=dict)
    caption: str = "manual"
    text_mode: TextMode = "tags"
    full_path: bool = False
    naming: Naming = "stem"
    link: bool = False
    image_format: ImageFormat | None = None
    dataset_toml: bool = False
    num_repeats: int = 1
    overwrite: bool = False
    concepts: tuple[Concept, ...] = ()
    keep_originals: bool = False
    trigger_placeholder: bool = False
    simpletuner_captions: SimpleTunerCaptions = "textfile"
    hf_parquet: bool = False

    def __post_init__(self) -> None:
        if not self.formats:
            raise ValidationError("choose at least one export format")
        for fmt in self.formats:
            _check_choice("format", fmt, FORMATS)
        if len(set(self.formats)) != len(self.formats):
            raise ValidationError("each export format may be given once")
        if self.resolution is not None:
            _check_choice("resolution", self.resolution, RESOLUTIONS)
        _check_choice("order", self.order, get_args(TagOrder))
        _check_choice("text mode", self.text_mode, get_args(TextMode))
        _check_choice("naming", self.naming, get_args(Naming))
        if self.image_format is not None:
            _check_choice("image format", self.image_format, get_args(ImageFormat))
            if self.link:
                raise ValidationError(
                    "--link cannot be combined with --image-format (re-encoding writes new files)"
                )
        for category, value in self.thresholds.items():
            _check_choice("threshold category", category, TAG_CATEGORIES)
            if not 0.0 <= value <= 1.0:
                raise ValidationError(f"threshold for {category} must be between 0 and 1, got {value}")
        if self.max_tags is not None and self.max_tags < 1:
            raise ValidationError(f"max tags must be at least 1, got {self.max_tags}")
        if self.keep_tokens is not None and self.keep_tokens < 0:
            raise ValidationError(f"keep tokens must be 0 or more, got {self.keep_tokens}")
        if self.num_repeats < 1:
            raise ValidationError(f"num repeats must be at least 1, got {self.num_repeats}")
        if self.ids is not None and self.query:
            raise ValidationError("give either a query or --ids, not both")
        if any(not token.strip() or "," in token for token in self.trigger):
            raise ValidationError("trigger words must be non-empty and contain no commas")
        _check_choice("simpletuner captions", self.simpletuner_captions, get_args(SimpleTunerCaptions))
        check_concepts(self.concepts, "kohya" in self.formats)
        if self.hf_parquet and "hf" not in self.formats:
            raise ValidationError("--hf-parquet adds parquet shards to an hf export; add --format hf")
        if self.concepts and (self.query or self.ids is not None):
            raise ValidationError("concepts carry their own queries; give no query or --ids with them")
        if self.concepts and self.num_repeats != 1:
            raise ValidationError("with concepts, set repeats per concept (--repeats NAME=N)")
        if self.trigger_placeholder and set(self.formats) & SIDECAR_FORMATS != {"ai-toolkit"}:
            raise ValidationError(
                "--trigger-placeholder writes [trigger] for ai-toolkit; other sidecar trainers would "
                "learn it literally, so export them separately"
            )
        if self.keep_originals and (self.image_format is not None or self.resolution is not None):
            raise ValidationError(
                "--keep-originals copies originals; it excludes --image-format and --resolution"
            )
        if not self.caption.strip():
            raise ValidationError("caption choice must be manual, newest, none or a model name")
        if self.quality_tags and not self.quality_bands:
            raise ValidationError("quality tags need at least one score band")
        for minimum, tag in self.quality_bands:
            if not 0.0 <= minimum <= 10.0 or not clean_tag(tag):
                raise ValidationError(f"bad quality band {minimum}={tag!r}: scores are on a 0-10 scale")
        for source, target in self.replace_tags.items():
            if not clean_tag(source) or not clean_tag(target):
                raise ValidationError(f"bad replacement {source!r}={target!r}: both sides need a tag")

    @property
    def effective_keep_tokens(self) -> int:
        """kohya's keep_tokens: the trigger words, and the rating tag placed after them, stay in
        front when captions are shuffled."""
        if self.keep_tokens is not None:
            return self.keep_tokens
        return len(self.trigger) + (1 if self.rating_tag else 0)

    def for_concept(self, concept: Concept) -> ExportOptions:
        """These options with the concept's own trigger words (the export's when it has none)."""
        if concept.trigger is None or concept.trigger == self.trigger:
            return self
        return replace(self, trigger=concept.trigger)

    def folder_of(self, concept: Concept) -> str:
        """The concept's folder relative to the export root (the dataset root without concepts)."""
        root = dataset_root(self.formats)
        return join(root, concept.folder("kohya" in self.formats)) if self.concepts else root

    def config_path(self, relative: str, target: Path) -> str:
        """A path as trainer configs hold it: relative to the export folder (run the trainer from
        there, so a moved export keeps working), or absolute under `target` with `--full-path`."""
        if self.full_path:
            return (target / relative).as_posix() if relative else target.as_posix()
        return relative or "."

    @property
    def plan(self) -> tuple[Concept, ...]:
        """The concepts written; without any, one concept that is the whole selection."""
        return self.concepts or (Concept(name="default", query=self.query, repeats=self.num_repeats),)

    @property
    def caption_extension(self) -> str:
        """The sidecar kohya reads as the training text for this text mode."""
        return ".caption" if self.text_mode == "caption" else ".txt"

    @cached_property
    def excluded_keys(self) -> frozenset[str]:
        return frozenset(lookup_key(tag) for tag in self.exclude_tags)

    @cached_property
    def replacements(self) -> dict[str, str]:
        return {lookup_key(source): clean_tag(target) for source, target in self.replace_tags.items()}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"] = str(self.target) if self.target else None
        data["quality_bands"] = [[minimum, tag] for minimum, tag in self.quality_bands]
        data["concepts"] = [asdict(concept) for concept in self.concepts]
        return data


def parse_pairs(text: str, what: str) -> dict[str, str]:
    """`a=b,c=d` into a dict, for the CLI's `--replace-tags` and `--threshold` style options."""
    pairs: dict[str, str] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValidationError(f"{what}: expected NAME=VALUE, got {part!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def parse_thresholds(text: str) -> dict[str, float]:
    thresholds = {}
    for category, value in parse_pairs(text, "threshold").items():
        try:
            thresholds[category] = float(value)
        except ValueError as exc:
            raise ValidationError(f"threshold for {category} must be a number, got {value!r}") from exc
    return thresholds


def parse_quality_bands(text: str) -> tuple[tuple[float, str], ...]:
    bands = []
    for minimum, tag in parse_pairs(text, "quality bands").items():
        try:
            bands.append((float(minimum), tag))
        except ValueError as exc:
            raise ValidationError(f"quality band minimum must be a number, got {minimum!r}") from exc
    return tuple(sorted(bands, reverse=True))
