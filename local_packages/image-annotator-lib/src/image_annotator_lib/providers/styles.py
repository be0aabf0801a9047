"""Caption styles: named prompt presets (instructions, fields, schema) with per-image placeholders.

A style's text may use `{trigger}` (the run's trigger word), `{existing_tags}` (the image's
accepted tags, so a VLM can refine a tagger's output) and `{file_stem}`. A line whose placeholders
are all empty for an image is left out, so a preset reads naturally with or without them. The
hash covers everything that shapes the request, so results can be traced to the exact wording.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from image_annotator_lib.providers.prompt import (
    ALL_FIELDS,
    Prompt,
    PromptField,
    field_lines,
    response_schema,
)

PLACEHOLDERS = ("trigger", "existing_tags", "file_stem")
# An application passes one image's placeholder values in `PIL.Image.info` under this key, so
# they travel with the image through `Annotator.prepare` without changing the annotator API.
PROMPT_VALUES_KEY = "image_annotator_lib.prompt_values"
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


@dataclass(frozen=True)
class CaptionStyle:
    name: str
    instructions: str
    fields: tuple[PromptField, ...]
    user: str = "Describe this image as instructed."

    def __post_init__(self) -> None:
        if not self.name.strip() or not self.instructions.strip():
            raise ValueError("a caption style needs a name and instructions")
        unknown = [f for f in self.fields if f not in ALL_FIELDS]
        if unknown or not self.fields:
            raise ValueError(f"style {self.name!r}: fields must be a non-empty subset of {ALL_FIELDS}")

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(_PLACEHOLDER.findall(self.instructions + "\n" + self.user))

    @property
    def hash(self) -> str:
        """12 hex digits of SHA-256 over the wording, fields and schema."""
        canonical = json.dumps(
            {
                "instructions": self.instructions,
                "user": self.user,
                "fields": list(self.fields),
                "schema": response_schema(self.fields),
            },
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def render(self, values: Mapping[str, str], additional: str = "") -> Prompt:
        lines = [*_fill(self.instructions, values), *field_lines(self.fields)]
        if additional.strip():
            lines.append(additional.strip())
        return Prompt(
            system="\n".join(lines),
            user="\n".join(_fill(self.user, values)) or "Describe this image.",
            schema=response_schema(self.fields),
        )


def _fill(text: str, values: Mapping[str, str]) -> list[str]:
    """Substitute placeholders line by line; drop lines whose placeholders are all empty."""
    kept = []
    for line in text.strip().splitlines():
        names = _PLACEHOLDER.findall(line)
        if names and not any(values.get(name, "").strip() for name in names):
            continue
        kept.append(_PLACEHOLDER.sub(lambda m: values.get(m.group(1), "").strip(), line))
    return kept


PRESETS: dict[str, CaptionStyle] = {
    style.name: style
    for style in (
        CaptionStyle(
            name="booru-tags",
            fields=("tags", "rating"),
            instructions="""\
You tag images for training image-generation models, as a Danbooru tagger would.
List 15 to 40 Danbooru-style tags, most important first, lowercase, words separated by spaces
("1girl", "long hair", "outdoors"): subjects, count, hair, eyes, clothing, pose, expression,
setting, lighting, style and composition. No sentences, no guesses about names you cannot see.
Put this trigger tag first: {trigger}
A tagger proposed these tags: keep the ones that are right, drop the wrong ones, add what is missing: {existing_tags}""",
            user="Tag this image.",
        ),
        CaptionStyle(
            name="short-caption",
            fields=("caption",),
            instructions="""\
You caption images for training image-generation models.
Write one plain English sentence of at most 25 words: the main subject, what it is doing, and the
setting. No opinions, no "this image shows".
Begin the caption with: {trigger}
These tags are known to be correct; use them where they fit: {existing_tags}""",
            user="Caption this image in one sentence.",
        ),
        CaptionStyle(
            name="detailed-caption",
            fields=("caption", "tags"),
            instructions="""\
You caption images for training image-generation models.
Write a caption of three to six sentences: subject and count, appearance, clothing, pose and
expression, setting and background, lighting, colours, camera angle and framing, and the medium or
art style. Describe only what is visible, most important first.
Also list 10 to 30 Danbooru-style tags.
Begin the caption with: {trigger}
These tags are known to be correct; the caption must agree with them: {existing_tags}""",
            user="Caption this image in detail.",
        ),
        CaptionStyle(
            name="joycaption-like",
            fields=("caption",),
            instructions="""\
Write a long descriptive caption for this image in a formal, neutral tone, as JoyCaption does.
Start with the medium (photograph, digital illustration, oil painting, 3D render, ...), then
describe the subjects, their appearance, clothing, pose and expression, the setting, lighting,
colour palette, composition, camera angle and any visible text, quoting it exactly. Use precise
words; do not speculate about intent or mood beyond what is shown; never use the words "image"
or "picture" to start a sentence.
Refer to the main subject as: {trigger}
Tags already known for this image (the description must agree with them): {existing_tags}""",
            user="Write a long descriptive caption for this image.",
        ),
    )
}


def load_style(path: Path) -> CaptionStyle:
    """A custom style from a TOML file: `name`, `instructions`, `fields`, optional `user`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read style file {path}: {exc}") from None
    unknown = set(data) - {"name", "instructions", "fields", "user"}
    if unknown:
        raise ValueError(f"style file {path}: unknown keys {sorted(unknown)}")
    fields = data.get("fields", ["caption"])
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise ValueError(f'style file {path}: fields must be a list such as ["caption", "tags"]')
    values = {k: data[k] for k in ("name", "instructions", "user") if k in data}
    if not all(isinstance(v, str) for v in values.values()):
        raise ValueError(f"style file {path}: name, instructions and user must be strings")
    values.setdefault("name", f"custom:{path.stem}")
    return CaptionStyle(fields=tuple(fields), **values)


def resolve_style(name: str) -> CaptionStyle:
    """A preset by name, or `custom:PATH` / a path to a TOML file."""
    if name in PRESETS:
        return PRESETS[name]
    path = Path(name.removeprefix("custom:")).expanduser()
    if name.startswith("custom:") or path.suffix == ".toml":
        return load_style(path)
    raise ValueError(f"unknown caption style {name!r}; presets: {', '.join(PRESETS)}, or custom FILE")
