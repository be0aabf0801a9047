"""Pure tag-cleaning functions (no database): the canonical stored form of a tag.

Canonical form: spaces instead of underscores (kaomoji such as `^_^` kept), parentheses unescaped,
whitespace collapsed, surrounding whitespace stripped. Case is preserved; lookups fold it.
"""

from __future__ import annotations

import re

# Kaomoji and emoticons whose underscores are part of the face, not word separators.
KAOMOJI = frozenset(
    {
        "^_^",
        "o_o",
        "0_0",
        "o_o;",
        ">_<",
        "<_<",
        ">_>",
        "=_=",
        "-_-",
        "-_-;",
        "u_u",
        "x_x",
        "t_t",
        "^_^;",
        "._.",
        ";_;",
        "@_@",
        "+_+",
        "|_|",
        "._.;",
    }
)

_WHITESPACE = re.compile(r"\s+")
_ESCAPED_PAREN = re.compile(r"\\([()\[\]])")
_UNESCAPED_PAREN = re.compile(r"(?<!\\)([()\[\]])")


def is_kaomoji(tag: str) -> bool:
    return tag.strip().lower() in KAOMOJI


def unescape(tag: str) -> str:
    r"""`\(artist\)` -> `(artist)`: the form used for lookups and storage."""
    return _ESCAPED_PAREN.sub(r"\1", tag)


def escape_for_prompt(tag: str) -> str:
    r"""`(artist)` -> `\(artist\)`: parentheses are weighting syntax in prompts."""
    return _UNESCAPED_PAREN.sub(r"\\\1", tag)


def clean_tag(raw: str) -> str:
    """Canonical stored form of one tag; empty string when nothing is left."""
    tag = unescape(raw.strip())
    if not is_kaomoji(tag):
        tag = tag.replace("_", " ")
    return _WHITESPACE.sub(" ", tag).strip()


def lookup_key(tag: str) -> str:
    """Case-folded canonical form, the key tag-database lookups use."""
    return clean_tag(tag).casefold()
