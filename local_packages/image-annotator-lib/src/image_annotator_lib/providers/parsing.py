"""Turning a model's answer into tags, caption and score, tolerant of servers that ignore schemas.

Structured output arrives as a dict (tool input) or a JSON string; servers without schema support
answer with JSON wrapped in prose or a code fence, or with `Tags:` / `Caption:` / `Score:` blocks.
Anything else is malformed output, which the caller retries once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from image_annotator_lib.providers.prompt import ALL_FIELDS, RATINGS, PromptField

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_BLOCK = re.compile(
    r"^\s*[*#\-\s]*(tags|caption|description|score|aesthetic(?: score)?|rating)\s*[*]*\s*[:：]\s*[*]*\s*(.*)$",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_SCORE_MIN, _SCORE_MAX = 1.0, 10.0


class MalformedOutputError(ValueError):
    """The answer held none of the requested fields in any form we understand."""


@dataclass
class ParsedAnnotation:
    tags: list[str] = field(default_factory=list)
    caption: str | None = None
    score: float | None = None
    rating: str | None = None


def _clean_rating(raw: Any) -> str | None:
    """One of RATINGS; the first letter is enough ("s", "Q"), anything else is dropped."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    word = raw.strip().strip("\"'.").lower()
    return next((r for r in RATINGS if r == word or (len(word) == 1 and r[0] == word)), None)


def _clean_tags(raw: Any) -> list[str]:
    if isinstance(raw, str):
        raw = re.split(r"[,\n]", raw)
    if not isinstance(raw, list):
        return []
    seen: dict[str, None] = {}
    for item in raw:
        if isinstance(item, str):
            tag = item.strip().strip("\"'").strip()
            if tag and tag.casefold() not in {t.casefold() for t in seen}:
                seen[tag] = None
    return list(seen)


def _clean_score(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str) and (match := _NUMBER.search(raw)):
        value = float(match.group())
    else:
        return None
    return min(max(value, _SCORE_MIN), _SCORE_MAX)


def _from_mapping(data: dict[str, Any]) -> ParsedAnnotation:
    lowered = {str(k).lower(): v for k, v in data.items()}
    caption = lowered.get("caption", lowered.get("description"))
    return ParsedAnnotation(
        tags=_clean_tags(lowered.get("tags")),
        caption=(caption.strip() or None) if isinstance(caption, str) else None,
        score=_clean_score(lowered.get("score", lowered.get("aesthetic_score"))),
        rating=_clean_rating(lowered.get("rating")),
    )


def _json_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object found in the text: fenced blocks first, then any balanced `{...}`."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    found: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for start in (i for i, ch in enumerate(candidate) if ch == "{"):
            try:
                value, _ = decoder.raw_decode(candidate[start:])
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                found.append(value)
                break
    return found


def _from_blocks(text: str) -> ParsedAnnotation:
    """`Tags: a, b` / `Caption: ...` / `Score: 7` lines; a block may continue on following lines."""
    blocks: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _BLOCK.match(line)
        if match:
            key = match.group(1).lower()
            current = "score" if key.startswith(("score", "aesthetic")) else key
            current = "caption" if current == "description" else current
            blocks[current] = [match.group(2)]
        elif current is not None and line.strip():
            blocks[current].append(line.strip().lstrip("-* "))
    caption = " ".join(blocks.get("caption", [])).strip()
    return ParsedAnnotation(
        tags=_clean_tags(",".join(blocks.get("tags", []))),
        caption=caption or None,
        score=_clean_score(" ".join(blocks.get("score", []))),
        rating=_clean_rating(" ".join(blocks.get("rating", []))),
    )


def _has_any(parsed: ParsedAnnotation, fields: Sequence[PromptField]) -> bool:
    return (
        ("tags" in fields and bool(parsed.tags))
        or ("caption" in fields and parsed.caption is not None)
        or ("score" in fields and parsed.score is not None)
        or ("rating" in fields and parsed.rating is not None)
    )


def parse_annotation(
    answer: str | dict[str, Any] | None, fields: Sequence[PromptField] = ALL_FIELDS
) -> ParsedAnnotation:
    """Parse structured or free-form output; raise `MalformedOutputError` if nothing usable is there."""
    if isinstance(answer, dict):
        parsed = _from_mapping(answer)
        if _has_any(parsed, fields):
            return _only(parsed, fields)
        raise MalformedOutputError("structured answer held none of the requested fields")
    text = (answer or "").strip()
    if not text:
        raise MalformedOutputError("empty answer")
    for candidate in _json_objects(text):
        parsed = _from_mapping(candidate)
        if _has_any(parsed, fields):
            return _only(parsed, fields)
    parsed = _from_blocks(text)
    if _has_any(parsed, fields):
        return _only(parsed, fields)
    raise MalformedOutputError(f"could not parse the answer: {text[:120]!r}")


def _only(parsed: ParsedAnnotation, fields: Sequence[PromptField]) -> ParsedAnnotation:
    """Drop fields the user did not ask for, so a chatty model cannot add a caption nobody wanted."""
    return ParsedAnnotation(
        tags=parsed.tags if "tags" in fields else [],
        caption=parsed.caption if "caption" in fields else None,
        score=parsed.score if "score" in fields else None,
        rating=parsed.rating if "rating" in fields else None,
    )
