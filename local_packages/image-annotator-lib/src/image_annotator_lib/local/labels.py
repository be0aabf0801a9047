"""Tag lists in the formats taggers ship them, read into one shape: names plus a category each.

- `wd-csv`: a CSV with a header holding `name` and, optionally, `category` (an integer code or a
  word). SmilingWolf's `selected_tags.csv`, deepghs' exports (pixai, idolsankaku) and Z3D's
  `tags-selected.csv` all have this shape.
- `json`: camie's metadata (`dataset_info.tag_mapping.idx_to_tag` + `tag_to_category`), cl_tagger's
  `tag_mapping.json` (`{"0": {"tag": ..., "category": ...}}`), or a plain list of names or of
  `{"name"|"tag", "category"}` objects.
- `txt`: one tag per line (DeepDanbooru's `tags.txt`); a `rating:` prefix marks a rating.

Categories are mapped onto the library's `TagCategory` through a table (codes or words as keys);
the model spec may override it, e.g. e621's codes for Z3D.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

import numpy as np

from image_annotator_lib.core.types import TagCategory

LabelsFormat = Literal["wd-csv", "json", "txt"]
LABEL_FORMATS: tuple[str, ...] = get_args(LabelsFormat)
_CATEGORIES: tuple[str, ...] = get_args(TagCategory)

# Danbooru's category codes, as SmilingWolf's CSVs use them; words as camie and cl_tagger write them.
DANBOORU_CATEGORIES: dict[str, TagCategory] = {
    "0": "general",
    "1": "artist",
    "3": "copyright",
    "4": "character",
    "5": "meta",
    "9": "rating",
    "series": "copyright",
    "year": "meta",
    "quality": "meta",
    "model": "meta",
}
# e621's codes (https://e621.net/wiki_pages/11262): species and lore have no own category here.
E621_CATEGORIES: dict[str, TagCategory] = {
    "0": "general",
    "1": "artist",
    "3": "copyright",
    "4": "character",
    "5": "general",
    "6": "meta",
    "7": "meta",
    "8": "general",
}
CATEGORY_CODES: dict[str, dict[str, TagCategory]] = {"danbooru": DANBOORU_CATEGORIES, "e621": E621_CATEGORIES}
RATING_PREFIX = "rating:"


class LabelsError(ValueError):
    """The labels file is missing, unreadable or not in the declared format."""


@dataclass(frozen=True)
class Labels:
    names: list[str]
    categories: np.ndarray  # one TagCategory string per name

    def __len__(self) -> int:
        return len(self.names)

    def mask(self, category: TagCategory) -> np.ndarray:
        return cast(np.ndarray, self.categories == category)


def labels_format_for(filename: str) -> LabelsFormat:
    """The format a labels file's extension implies (the spec may say otherwise)."""
    suffix = Path(filename).suffix.lower()
    return {".json": "json", ".txt": "txt"}.get(suffix, "wd-csv")  # type: ignore[return-value]


def category_table(
    overrides: Mapping[str, Any] | None, base: Mapping[str, TagCategory]
) -> dict[str, TagCategory]:
    """`base` with the spec's `categories` table on top; values must be known categories."""
    table = dict(base)
    for key, value in (overrides or {}).items():
        if value not in _CATEGORIES:
            raise LabelsError(f"category {key!r} maps to {value!r}; use one of {', '.join(_CATEGORIES)}")
        table[str(key).strip().lower()] = value
    return table


def _category(raw: object, table: Mapping[str, TagCategory]) -> TagCategory:
    key = str(raw).strip().lower()
    if key in _CATEGORIES:
        return cast(TagCategory, table.get(key, key))
    return table.get(key, "general")


def _read_csv(path: Path, table: Mapping[str, TagCategory]) -> tuple[list[str], list[TagCategory]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "name" not in reader.fieldnames:
            raise LabelsError(f"{path.name} has no `name` column (header: {reader.fieldnames})")
        names, categories = [], []
        for row in reader:
            names.append(row["name"].strip())
            categories.append(_category(row.get("category") or "0", table))
    return names, categories


def _entry(index: object, value: object, table: Mapping[str, TagCategory]) -> tuple[str, TagCategory]:
    if isinstance(value, str):
        return value, "general"
    if isinstance(value, Mapping):
        name = value.get("tag", value.get("name"))
        if isinstance(name, str):
            return name, _category(value.get("category", "general"), table)
    raise LabelsError(f"entry {index!r} is neither a name nor an object with `tag`/`name`")


def _read_json(path: Path, table: Mapping[str, TagCategory]) -> tuple[list[str], list[TagCategory]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    mapping = data.get("dataset_info", {}).get("tag_mapping") if isinstance(data, Mapping) else None
    if isinstance(mapping, Mapping) and "idx_to_tag" in mapping:  # camie
        by_index = {int(k): str(v) for k, v in mapping["idx_to_tag"].items()}
        to_category = mapping.get("tag_to_category", {})
        names = [by_index[i] for i in range(len(by_index))]
        return names, [_category(to_category.get(name, "general"), table) for name in names]
    if isinstance(data, Mapping):  # {"0": ..., "1": ...}, ordered by index
        items = sorted(((int(k), v) for k, v in data.items()), key=lambda item: item[0])
        if [k for k, _ in items] != list(range(len(items))):
            raise LabelsError(f"{path.name}: indices are not 0..{len(items) - 1}")
        pairs = [_entry(k, v, table) for k, v in items]
    elif isinstance(data, list):
        pairs = [_entry(i, v, table) for i, v in enumerate(data)]
    else:
        raise LabelsError(f"{path.name} holds neither a list nor an object of tags")
    return [name for name, _ in pairs], [category for _, category in pairs]


def _read_txt(path: Path) -> tuple[list[str], list[TagCategory]]:
    names: list[str] = []
    categories: list[TagCategory] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        tag = line.strip()
        if not tag:
            continue
        if tag.startswith(RATING_PREFIX):
            names.append(tag[len(RATING_PREFIX) :])
            categories.append("rating")
        else:
            names.append(tag)
            categories.append("general")
    return names, categories


def load_labels(
    path: Path,
    labels_format: str,
    categories: Mapping[str, Any] | None = None,
    category_codes: str = "danbooru",
) -> Labels:
    """Read a labels file; `LabelsError` says what is wrong with it. `category_codes` names the
    site whose numeric codes the file uses; `categories` overrides single entries."""
    if labels_format not in LABEL_FORMATS:
        raise LabelsError(f"labels_format {labels_format!r}: use one of {', '.join(LABEL_FORMATS)}")
    if category_codes not in CATEGORY_CODES:
        raise LabelsError(f"category_codes {category_codes!r}: use one of {', '.join(CATEGORY_CODES)}")
    table = category_table(categories, CATEGORY_CODES[category_codes])
    try:
        if labels_format == "wd-csv":
            names, cats = _read_csv(path, table)
        elif labels_format == "json":
            names, cats = _read_json(path, table)
        else:
            names, cats = _read_txt(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, LabelsError):
            raise
        raise LabelsError(f"cannot read {path.name} as {labels_format}: {type(exc).__name__}: {exc}") from exc
    if not names:
        raise LabelsError(f"{path.name} lists no tags")
    return Labels(names, np.asarray(cats, dtype=object))
