"""Caption styles in the app: pick one for a run, give each image its placeholder values, and
re-point an API annotator at the style's prompt (a new instance: the registry's stays untouched)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePath
from typing import TYPE_CHECKING

from image_annotator_lib.providers.prompt import PromptOptions
from image_annotator_lib.providers.styles import PRESETS, PROMPT_VALUES_KEY, CaptionStyle, resolve_style
from lorairo.errors import ValidationError

# Kept free of the model registry, Pillow and the database at import: the CLI lists STYLE_NAMES in
# its help, which every `lorairo` call builds.
if TYPE_CHECKING:
    from PIL import Image

    from image_annotator_lib.core.base import Annotator
    from lorairo.database.engine import Database

STYLE_NAMES = tuple(PRESETS)


def caption_style(name: str) -> CaptionStyle:
    """A preset name or `custom:FILE` / `FILE.toml`; bad input is a ValidationError."""
    try:
        return resolve_style(name)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def with_style(annotator: Annotator, style: CaptionStyle) -> Annotator:
    """The same API model asking in the style's words; local models have no prompt to change."""
    if not annotator.is_api:
        raise ValidationError(f"{annotator.name} is a local model; caption styles apply to vision LLMs")
    current = annotator.spec.options.get("prompt")
    additional = current.additional if isinstance(current, PromptOptions) else ""
    options = {**annotator.spec.options, "prompt": PromptOptions.for_style(style, additional)}
    styled = type(annotator)(replace(annotator.spec, options=options))
    styled.load()
    return styled


def attach_prompt_values(
    images: Sequence[tuple[int, Image.Image]], style: CaptionStyle, trigger: str, database: Database
) -> None:
    """Put each image's `{trigger}`, `{existing_tags}`, `{file_stem}` where the provider reads them."""
    from lorairo.database.run_repository import RunRepository

    needed = style.placeholders
    if not needed or not images:
        return
    ids = [image_id for image_id, _ in images]
    with database.read_session() as session:
        tags = RunRepository.accepted_tags(session, ids) if "existing_tags" in needed else {}
        names = RunRepository.image_names(session, ids) if "file_stem" in needed else {}
    for image_id, image in images:
        image.info[PROMPT_VALUES_KEY] = {
            "trigger": trigger,
            "existing_tags": ", ".join(tags.get(image_id, [])),
            "file_stem": PurePath(names.get(image_id, "")).stem,
        }
