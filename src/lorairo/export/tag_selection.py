"""Turning one image's stored annotations into the text a trainer reads.

The curation decisions live here: rejected tags never leave, a manual row decides its tag over any
model row, a hand-made order comes first, thresholds and overlays apply only to what is written
(the database is never touched). Which caption, score and rating count is `database.effective`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from genai_tag_db_tools.cleaning import clean_tag, format_for_output, lookup_key
from lorairo.database.export_repository import CaptionRow, ImageRecord, RatingRow, ScoreRow, TagRow
from lorairo.database.schema import SOURCE_EXISTING
from lorairo.export.options import ExportOptions

KEEP_TOKENS_SEPARATOR = "|||"

# Tag vocabularies repeat across images, so the pure cleaning functions are memoised: an export of
# 100k images would otherwise clean the same few thousand strings millions of times.
_CACHE = 1 << 16
_key = lru_cache(maxsize=_CACHE)(lookup_key)
_clean = lru_cache(maxsize=_CACHE)(clean_tag)
_styled = lru_cache(maxsize=_CACHE)(format_for_output)


def tag_key(tag: str) -> str:
    """The case-folded comparison key of a tag, memoised (for the lint's per-image counting)."""
    return _key(tag)


@dataclass(frozen=True)
class SelectedTag:
    """`position`: where the person put the tag by hand (None when never ordered by hand)."""

    name: str
    category: str
    confidence: float | None
    position: int | None = None


@dataclass(frozen=True)
class ImageText:
    """What one image gets: `tags` are styled for output, `prefix` is trigger, rating and quality."""

    prefix: tuple[str, ...]
    tags: tuple[str, ...]
    caption: str | None
    score: float | None
    rating: str | None

    def tags_text(self, options: ExportOptions) -> str:
        """Comma-separated tags with the prefix first (split off by `|||` when asked)."""
        body = ", ".join(self.tags)
        head = ", ".join(self.prefix)
        if options.keep_tokens_separator and head:
            return f"{head} {KEEP_TOKENS_SEPARATOR} {body}".rstrip()
        return ", ".join(part for part in (head, body) if part)

    def caption_text(self, options: ExportOptions) -> str | None:
        """The caption with the trigger words in front, for the caption-only text mode."""
        if self.caption is None:
            return None
        head = ", ".join(options.trigger)
        if not head:
            return self.caption
        separator = f" {KEEP_TOKENS_SEPARATOR} " if options.keep_tokens_separator else ", "
        return f"{head}{separator}{self.caption}"

    def primary_text(self, options: ExportOptions) -> str | None:
        """The training text of the kohya sidecar (`.txt`, or `.caption` in caption mode)."""
        if options.text_mode == "caption":
            return self.caption_text(options)
        if not self.tags and not (options.text_mode == "append" and self.caption):
            return None
        text = self.tags_text(options)
        if options.text_mode == "append" and self.caption:
            return f"{text}, {self.caption}" if text else self.caption
        return text

    def metadata_fields(self, options: ExportOptions) -> dict[str, str]:
        """`caption` and `tags` for sd-scripts metadata, which trains on `caption, tags`: the trigger
        words go with the caption when there is one so they stay first; empty values are left out."""
        if options.text_mode == "caption":
            caption = self.caption_text(options)
            return {"caption": caption} if caption else {}
        if not self.caption:
            tags = self.tags_text(options)
            return {"tags": tags} if tags else {}
        rest = ", ".join((*self.prefix[len(options.trigger) :], *self.tags))
        caption = self.caption_text(options) or ""
        return {"caption": caption, "tags": rest} if rest else {"caption": caption}

    def skip_reason(self, options: ExportOptions) -> str | None:
        if options.text_mode == "caption":
            return None if self.caption else "no caption"
        if self.tags or (options.text_mode == "append" and self.caption):
            return None
        return "no accepted tags"


def _source_allowed(row: TagRow, tags_from: tuple[str, ...] | None) -> bool:
    if tags_from is None:
        return True
    if row.source == SOURCE_EXISTING:
        return SOURCE_EXISTING in tags_from
    return row.model in tags_from


def _passes_threshold(row: TagRow, thresholds: Mapping[str, float]) -> bool:
    limit = thresholds.get(row.category)
    return limit is None or row.confidence is None or row.confidence >= limit


def _best_confidence(rows: list[TagRow]) -> float | None:
    values = [row.confidence for row in rows if row.confidence is not None]
    return max(values) if values else None


def select_tags(record: ImageRecord, options: ExportOptions) -> list[SelectedTag]:
    """Accepted, non-rejected tags, one per tag (case-folded), before ordering and overlays.

    A manual row decides its tag outright (kept if accepted and not rejected, whatever the models
    said, and with no threshold); otherwise the tag is kept when no row of it is rejected and at
    least one row from a chosen model is accepted and meets its category's threshold.
    """
    groups: dict[str, list[TagRow]] = {}
    for row in record.tags:
        groups.setdefault(_key(row.tag), []).append(row)
    selected = []
    for rows in groups.values():
        position = rows[0].manual_position  # a decision on (image, tag): the same on every row
        manual = [row for row in rows if row.manual]
        if manual:
            kept = [row for row in manual if row.accepted and not row.rejected]
            if kept:
                selected.append(
                    SelectedTag(kept[-1].tag, kept[-1].category, _best_confidence(rows), position)
                )
            continue
        if any(row.rejected for row in rows):
            continue
        passing = [
            row
            for row in rows
            if row.accepted
            and _source_allowed(row, options.tags_from)
            and _passes_threshold(row, options.thresholds)
        ]
        if passing:
            selected.append(
                SelectedTag(passing[0].tag, passing[0].category, _best_confidence(passing), position)
            )
    return selected


def order_tags(
    tags: list[SelectedTag], options: ExportOptions, frequencies: Mapping[str, int] | None = None
) -> list[SelectedTag]:
    """Sort by the chosen order; a tag without a confidence (a manual one) counts as certain.

    `manual` puts the tags the person ordered by hand first, in that order, and the rest by
    confidence (so an image never ordered is in confidence order); `character_first` applies to
    that rest only, as the hand-made order is the person's last word.
    """
    hand: list[SelectedTag] = []
    rest = tags
    if options.order == "manual":
        hand = sorted((t for t in tags if t.position is not None), key=lambda t: (t.position, _key(t.name)))
        rest = [t for t in tags if t.position is None]
    if options.order == "frequency":
        counts = frequencies or {}
        ordered = sorted(rest, key=lambda t: (-counts.get(_key(t.name), 0), _key(t.name)))
    elif options.order == "alphabet":
        ordered = sorted(rest, key=lambda t: _key(t.name))
    else:
        ordered = sorted(rest, key=lambda t: (-(1.0 if t.confidence is None else t.confidence), _key(t.name)))
    if options.character_first:
        ordered = [t for t in ordered if t.category == "character"] + [
            t for t in ordered if t.category != "character"
        ]
    return hand + ordered


def apply_overlays(tags: list[SelectedTag], options: ExportOptions) -> list[str]:
    """Drop meta and excluded tags, apply replacements, de-duplicate: export-only, never stored."""
    excluded = options.excluded_keys
    replacements = options.replacements
    seen: set[str] = set()
    names = []
    for tag in tags:
        if options.drop_meta and tag.category == "meta":
            continue
        key = _key(tag.name)
        if key in excluded:
            continue
        name = replacements.get(key, _clean(tag.name))
        key = _key(name)
        if key in seen or key in excluded:
            continue
        seen.add(key)
        names.append(name)
    return names


def choose_caption(captions: list[CaptionRow], choice: str) -> str | None:
    """`manual`: the effective caption (a manual one if any, else the newest, as everywhere else);
    `newest`; `none`; or a model's newest."""
    if choice == "none":
        return None
    if choice == "manual":
        pool = [row for row in captions if row.effective]
    elif choice == "newest":
        pool = captions
    else:
        pool = [row for row in captions if row.model == choice]
    if not pool:
        return None
    text = max(pool, key=lambda row: (row.updated_at, row.row_id)).caption.strip()
    return text or None


def choose_score(scores: list[ScoreRow], kind: str) -> float | None:
    """The effective score of `kind` (the record holds one per kind) on a 0-10 scale."""
    for row in scores:
        if row.kind == kind and row.scale_max > 0:
            return round(row.score * 10.0 / row.scale_max, 4)
    return None


def choose_rating(ratings: list[RatingRow]) -> str | None:
    """The effective rating (the record holds only that one)."""
    return ratings[0].rating if ratings else None


def quality_tag(score: float | None, options: ExportOptions) -> str | None:
    if score is None:
        return None
    for minimum, tag in sorted(options.quality_bands, reverse=True):
        if score >= minimum:
            return tag
    return None


def build_text(
    record: ImageRecord, options: ExportOptions, frequencies: Mapping[str, int] | None = None
) -> ImageText:
    """Everything written for one image, in output style; pure, so preview and export agree."""
    score = choose_score(record.scores, options.score_kind)
    rating = choose_rating(record.ratings)
    extra = []
    if options.rating_tag and rating:
        extra.append(f"rating:{rating}")
    quality = quality_tag(score, options) if options.quality_tags else None
    if quality:
        extra.append(quality)
    in_prefix = {_key(tag) for tag in (*options.trigger, *extra)}
    names = [
        name
        for name in apply_overlays(order_tags(select_tags(record, options), options, frequencies), options)
        if _key(name) not in in_prefix
    ]
    if options.max_tags is not None:
        names = names[: options.max_tags]

    def style(tag: str) -> str:
        return _styled(tag, underscores=options.underscores, escape=options.escape_parens)

    return ImageText(
        prefix=(*options.trigger, *(style(tag) for tag in extra)),
        tags=tuple(style(name) for name in names),
        caption=choose_caption(record.captions, options.caption),
        score=score,
        rating=rating,
    )
