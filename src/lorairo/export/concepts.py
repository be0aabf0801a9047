"""Concepts: named subsets of an export, each with its own query, repeats, trigger words, class
tokens and regularisation flag, and the folder each one lands in.

The folder names follow kohya-ss sd-scripts' DreamBooth rule (`library/config_util.py`,
`generate_dreambooth_subsets_config_by_subdirs` / `extract_dreambooth_params`): `<repeats>_<class
tokens>` with regularisation folders under `reg/`. Other trainers take any folder name, so the
kohya name is only used when kohya is among the formats.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorairo.errors import ValidationError
from lorairo.export.naming import safe_stem

REG_FOLDER = "reg"
HF_SPLIT = "train"


@dataclass(frozen=True)
class Concept:
    name: str
    query: str | None = None
    repeats: int = 1
    class_tokens: str | None = None
    trigger: tuple[str, ...] | None = None
    is_reg: bool = False

    def __post_init__(self) -> None:
        if not self.name.strip() or safe_stem(self.name) != self.name or self.name == REG_FOLDER:
            raise ValidationError(
                f"concept name {self.name!r} must be a plain folder name (letters, digits, - _ and spaces)"
            )
        if self.repeats < 1:
            raise ValidationError(f"repeats for concept {self.name} must be at least 1, got {self.repeats}")
        if self.class_tokens is not None and (
            not self.class_tokens.strip() or safe_stem(self.class_tokens) != self.class_tokens
        ):
            raise ValidationError(
                f"class tokens for {self.name} must be plain words, got {self.class_tokens!r}"
            )
        if self.trigger is not None and any(not word.strip() or "," in word for word in self.trigger):
            raise ValidationError(f"trigger words of {self.name} must be non-empty and contain no commas")

    def folder(self, kohya: bool) -> str:
        """The concept's folder relative to the dataset root."""
        base = f"{self.repeats}_{self.class_tokens or self.name}" if kohya else self.name
        return f"{REG_FOLDER}/{base}" if self.is_reg else base


def dataset_root(formats: tuple[str, ...]) -> str:
    """Where images go: under `train/` when an hf imagefolder is written (its split folder)."""
    return HF_SPLIT if "hf" in formats else ""


def join(*parts: str) -> str:
    """A relative posix path from parts, skipping empty ones ("" is the export folder itself)."""
    return "/".join(part for part in parts if part)


def check_concepts(concepts: tuple[Concept, ...], kohya: bool) -> None:
    names = [concept.name.casefold() for concept in concepts]
    if len(set(names)) != len(names):
        raise ValidationError("each concept name may be given once")
    folders = [concept.folder(kohya).casefold() for concept in concepts]
    if len(set(folders)) != len(folders):
        raise ValidationError(
            "two concepts would share a folder (kohya names folders <repeats>_<class tokens>); "
            "change their repeats or class tokens"
        )
    if concepts and all(concept.is_reg for concept in concepts):
        raise ValidationError("at least one concept must be training data, not regularisation")


def parse_concept_args(
    concepts: list[str], repeats: list[str], class_tokens: list[str], reg: list[str], triggers: list[str]
) -> tuple[Concept, ...]:
    """`--concept NAME=QUERY` plus `--repeats NAME=N`, `--class-tokens NAME=WORDS`, `--reg NAME`,
    `--concept-trigger NAME=WORDS` (all repeatable) into concepts, in the order given."""
    queries = _pairs(concepts, "--concept")
    per_name: dict[str, dict[str, Any]] = {name: {"query": query} for name, query in queries.items()}
    for name, value in _pairs(repeats, "--repeats").items():
        _known(per_name, name, "--repeats")["repeats"] = _int(value, f"--repeats {name}")
    for name, value in _pairs(class_tokens, "--class-tokens").items():
        _known(per_name, name, "--class-tokens")["class_tokens"] = value
    for name, value in _pairs(triggers, "--concept-trigger").items():
        _known(per_name, name, "--concept-trigger")["trigger"] = _words(value)
    for name in reg:
        _known(per_name, name.strip(), "--reg")["is_reg"] = True
    return tuple(Concept(name=name, **fields) for name, fields in per_name.items())


def load_plan(path: Path) -> tuple[Concept, ...]:
    """A plan file: `[[concept]]` tables with name, query, repeats, class_tokens, trigger, reg."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValidationError(f"cannot read plan {path}: {exc}") from exc
    tables = data.get("concept")
    if not isinstance(tables, list) or not tables or set(data) - {"concept"}:
        raise ValidationError(f"plan {path} must hold only [[concept]] tables")
    allowed = {"name", "query", "repeats", "class_tokens", "trigger", "reg"}
    concepts = []
    for table in tables:
        unknown = set(table) - allowed
        if unknown or not isinstance(table.get("name"), str):
            raise ValidationError(
                f"plan {path}: each [[concept]] needs a name and only {', '.join(sorted(allowed))}"
                + (f" (unknown: {', '.join(sorted(unknown))})" if unknown else "")
            )
        trigger = table.get("trigger")
        if trigger is not None and not (
            isinstance(trigger, list) and all(isinstance(word, str) for word in trigger)
        ):
            raise ValidationError(f"plan {path}: trigger of {table['name']} must be a list of strings")
        if not isinstance(table.get("repeats", 1), int) or not isinstance(table.get("reg", False), bool):
            raise ValidationError(f"plan {path}: repeats must be an integer and reg true or false")
        concepts.append(
            Concept(
                name=table["name"],
                query=table.get("query"),
                repeats=table.get("repeats", 1),
                class_tokens=table.get("class_tokens"),
                trigger=tuple(trigger) if trigger is not None else None,
                is_reg=table.get("reg", False),
            )
        )
    return tuple(concepts)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise ValidationError(f"{what}: expected NAME=VALUE, got {value!r}")
        pairs[name.strip()] = rest.strip()
    return pairs


def _known(per_name: dict[str, dict[str, Any]], name: str, what: str) -> dict[str, Any]:
    if name not in per_name:
        raise ValidationError(f"{what} names {name!r}, which no --concept defines")
    return per_name[name]


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise ValidationError(f"{what} must be a whole number, got {value!r}") from exc


def _words(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())
