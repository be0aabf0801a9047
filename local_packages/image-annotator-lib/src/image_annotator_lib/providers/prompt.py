"""The one annotation prompt every provider sends, and the JSON schema its answer must follow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

PromptField = Literal["tags", "caption", "score"]
ALL_FIELDS: tuple[PromptField, ...] = ("tags", "caption", "score")

TOOL_NAME = "record_annotation"

_FIELD_INSTRUCTIONS: dict[PromptField, str] = {
    "tags": (
        '"tags": a list of 10 to 40 Danbooru-style tags, most important first, lowercase, '
        'words separated by spaces (for example "1girl", "long hair", "outdoors"); describe '
        "subjects, clothing, pose, setting, style and composition; no sentences"
    ),
    "caption": ('"caption": one or two plain English sentences describing the image as a training caption'),
    "score": ('"score": the aesthetic quality of the image as a number from 1 (poor) to 10 (excellent)'),
}


@dataclass(frozen=True)
class PromptOptions:
    """Which fields to ask for and what the user appends (`[prompts]` in the app's config)."""

    fields: tuple[PromptField, ...] = ALL_FIELDS
    additional: str = ""

    def __post_init__(self) -> None:
        unknown = [f for f in self.fields if f not in ALL_FIELDS]
        if unknown or not self.fields:
            raise ValueError(f"prompt fields must be a non-empty subset of {ALL_FIELDS}, got {self.fields}")

    @classmethod
    def of(cls, fields: Sequence[str] | None = None, additional: str = "") -> PromptOptions:
        chosen = tuple(f for f in ALL_FIELDS if fields is None or f in fields)
        extra = [f for f in fields or () if f not in ALL_FIELDS]
        if extra:
            raise ValueError(f"unknown prompt fields {extra}; choose from {ALL_FIELDS}")
        return cls(fields=chosen, additional=additional)


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
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def build_prompt(options: PromptOptions) -> Prompt:
    """Render the prompt. The JSON shape is spelled out too, for servers that ignore schemas."""
    lines = [
        "You annotate images for training image-generation models.",
        "Look at the image and answer with a single JSON object containing exactly these keys:",
        *(f"- {_FIELD_INSTRUCTIONS[f]}" for f in options.fields),
        "Answer with the JSON object only: no markdown, no commentary.",
    ]
    if options.additional.strip():
        lines.append(options.additional.strip())
    keys = ", ".join(f'"{f}"' for f in options.fields)
    return Prompt(
        system="\n".join(lines),
        user=f"Annotate this image. Reply with JSON containing {keys}.",
        schema=response_schema(options.fields),
    )
