"""The one annotation prompt every provider sends, and the JSON schema its answer must follow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

PromptField = Literal["tags", "caption", "score", "rating"]
ALL_FIELDS: tuple[PromptField, ...] = ("tags", "caption", "score", "rating")
DEFAULT_FIELDS: tuple[PromptField, ...] = ("tags", "caption", "score")
RATINGS = ("general", "sensitive", "questionable", "explicit")

TOOL_NAME = "record_annotation"

_FIELD_INSTRUCTIONS: dict[PromptField, str] = {
    "tags": (
        '"tags": a list of 10 to 40 Danbooru-style tags, most important first, lowercase, '
        'words separated by spaces (for example "1girl", "long hair", "outdoors"); describe '
        "subjects, clothing, pose, setting, style and composition; no sentences"
    ),
    "caption": ('"caption": one or two plain English sentences describing the image as a training caption'),
    "score": ('"score": the aesthetic quality of the image as a number from 1 (poor) to 10 (excellent)'),
    "rating": f'"rating": the content rating, one of {", ".join(repr(r) for r in RATINGS)}',
}


class PromptStyle(Protocol):
    """A named preset as the prompt needs it (`styles.CaptionStyle`): narrow, so this module never
    imports the presets, which are built from its parts."""

    @property
    def fields(self) -> tuple[PromptField, ...]: ...

    def render(self, values: Mapping[str, str], additional: str = "") -> Prompt: ...


@dataclass(frozen=True)
class PromptOptions:
    """Which fields to ask for and what the user appends (`[prompts]` in the app's config)."""

    fields: tuple[PromptField, ...] = DEFAULT_FIELDS
    additional: str = ""
    style: PromptStyle | None = None  # a named preset replaces the default instructions

    def __post_init__(self) -> None:
        unknown = [f for f in self.fields if f not in ALL_FIELDS]
        if unknown or not self.fields:
            raise ValueError(f"prompt fields must be a non-empty subset of {ALL_FIELDS}, got {self.fields}")

    @classmethod
    def of(cls, fields: Sequence[str] | None = None, additional: str = "") -> PromptOptions:
        chosen = DEFAULT_FIELDS if fields is None else tuple(f for f in ALL_FIELDS if f in fields)
        extra = [f for f in fields or () if f not in ALL_FIELDS]
        if extra:
            raise ValueError(f"unknown prompt fields {extra}; choose from {ALL_FIELDS}")
        return cls(fields=chosen, additional=additional)

    @classmethod
    def for_style(cls, style: PromptStyle, additional: str = "") -> PromptOptions:
        return cls(fields=style.fields, additional=additional, style=style)


@dataclass(frozen=True)
class Prompt:
    """The rendered prompt: a system message, the user text sent beside the image, the schema."""

    system: str
    user: str
    schema: dict[str, Any] = field(default_factory=dict)


def response_schema(fields: Sequence[PromptField]) -> dict[str, Any]:
    """A strict JSON schema (OpenAI strict mode requires every property listed as required)."""
    properties: dict[str, Any] = {}
    if "tags" in fields:
        properties["tags"] = {"type": "array", "items": {"type": "string"}}
    if "caption" in fields:
        properties["caption"] = {"type": "string"}
    if "score" in fields:
        properties["score"] = {"type": "number"}
    if "rating" in fields:
        properties["rating"] = {"type": "string", "enum": list(RATINGS)}
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def field_lines(fields: Sequence[PromptField]) -> list[str]:
    """The JSON shape spelled out, for servers that ignore schemas."""
    return [
        "Answer with a single JSON object containing exactly these keys:",
        *(f"- {_FIELD_INSTRUCTIONS[f]}" for f in fields),
        "Answer with the JSON object only: no markdown, no commentary.",
    ]


def build_prompt(options: PromptOptions, values: Mapping[str, str] | None = None) -> Prompt:
    """Render the prompt; a style's placeholders are filled from `values` (one image's)."""
    if options.style is not None:
        return options.style.render(values or {}, options.additional)
    lines = [
        "You annotate images for training image-generation models.",
        "Look at the image.",
        *field_lines(options.fields),
    ]
    if options.additional.strip():
        lines.append(options.additional.strip())
    keys = ", ".join(f'"{f}"' for f in options.fields)
    return Prompt(
        system="\n".join(lines),
        user=f"Annotate this image. Reply with JSON containing {keys}.",
        schema=response_schema(options.fields),
    )
