"""Estimated input tokens of one request before anything is sent (for `--dry-run`).

Image costs follow each provider's published rule for the size we send (long side capped at
`DEFAULT_LONG_SIDE`); text is counted at about four characters per token. Local servers bill
nothing, but their context still fills, so they are estimated with OpenAI's rule.
"""

from __future__ import annotations

import json
import math

from image_annotator_lib.providers.image_encoding import DEFAULT_LONG_SIDE
from image_annotator_lib.providers.prompt import Prompt

CHARS_PER_TOKEN = 4


def sent_size(width: int, height: int, long_side: int = DEFAULT_LONG_SIDE) -> tuple[int, int]:
    scale = min(1.0, long_side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def image_tokens(kind: str, width: int, height: int) -> int:
    """Tokens for one image of this size as sent."""
    w, h = sent_size(width, height)
    if kind == "anthropic":  # about one token per 750 pixels
        return math.ceil(w * h / 750)
    if kind == "google":  # 258 per image up to 384 px, else per 768 px tile
        if w <= 384 and h <= 384:
            return 258
        return 258 * math.ceil(w / 768) * math.ceil(h / 768)
    # OpenAI high detail: shortest side scaled to at most 768, then 170 per 512 px tile + 85
    scale = min(1.0, 768 / min(w, h))
    w, h = math.ceil(w * scale), math.ceil(h * scale)
    return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def request_tokens(kind: str, prompt: Prompt, width: int, height: int) -> int:
    """Input tokens of one request: the image, the instructions, the user text, the schema."""
    text = prompt.system + prompt.user + json.dumps(prompt.schema)
    return image_tokens(kind, width, height) + text_tokens(text)
