"""How many CLIP tokens a caption takes, for the 75-token window lint.

With the `tokenizers` package installed and a CLIP `tokenizer.json` (`[tags] clip_tokenizer`, or
one already in the Hugging Face cache; nothing is downloaded), the count is exact. Otherwise it is an estimate built on CLIP's own
pre-tokenisation (`'s|'t|...|letters|single digit|other symbols`, lower-cased): each digit and each
symbol run is one token, and a word is one token per started 6 letters. Common short words are
single CLIP tokens and rare long words split, so the estimate errs high on long common words and is
meant for a warning, not a cut-off.
"""

from __future__ import annotations

import importlib.util
import math
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from huggingface_hub import try_to_load_from_cache

CLIP_WINDOW = 75
CLIP_REPO = "openai/clip-vit-large-patch14"
_PIECES = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+", re.IGNORECASE)
_WORD_PIECE = 6

TokenCounter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    count = 0
    for piece in _PIECES.findall(text.lower()):
        count += math.ceil(len(piece) / _WORD_PIECE) if piece.isalpha() else 1
    return count


def tokenizer_counter(path: Path) -> TokenCounter:
    """An exact counter from a `tokenizer.json` (special tokens not counted)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


@lru_cache(maxsize=4)
def default_counter(tokenizer_file: str = "") -> tuple[TokenCounter, str]:
    """The exact CLIP counter when available offline (`tokenizer_file` if given and present, else
    the Hugging Face cache), else the estimate; and which one it is."""
    if importlib.util.find_spec("tokenizers") is not None:
        if tokenizer_file and Path(tokenizer_file).expanduser().is_file():
            return tokenizer_counter(Path(tokenizer_file).expanduser()), "clip"
        cached = try_to_load_from_cache(CLIP_REPO, "tokenizer.json")
        if isinstance(cached, str):
            return tokenizer_counter(Path(cached)), "clip"
    return estimate_tokens, "estimate"
