"""Pure tag-cleaning functions (no database): the canonical stored form of a tag.

Canonical form: spaces instead of underscores (kaomoji such as `^_^` kept), parentheses unescaped,
whitespace collapsed, surrounding whitespace stripped. Case is preserved; lookups fold it.
Extra-network spans such as `<lora:name_v2:0.8>` are prompt syntax, not tags, and pass untouched.
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
_NETWORK_SPAN = re.compile(r"<(?:lora|lyco|hypernet):[^>]*>", re.IGNORECASE)
_SEPARATORS = re.compile(r"[,\n]+")
_ESCAPED_PAREN = re.compile(r"\\([()\[\]])")
_UNESCAPED_PAREN = re.compile(r"(?<!\\)([()\[\]])")


def is_kaomoji(tag: str) -> bool:
    return tag.strip().lower() in KAOMOJI


def is_network_span(tag: str) -> bool:
    """True for a whole `<lora:...>`-style span, which must reach the prompt byte for byte."""
    return _NETWORK_SPAN.fullmatch(tag.strip()) is not None


def unescape(tag: str) -> str:
    r"""`\(artist\)` -> `(artist)`: the form used for lookups and storage."""
    return _ESCAPED_PAREN.sub(r"\1", tag)


def escape_for_prompt(tag: str) -> str:
    r"""`(artist)` -> `\(artist\)`: parentheses are weighting syntax in prompts."""
    return _UNESCAPED_PAREN.sub(r"\\\1", tag)


def clean_tag(raw: str) -> str:
    """Canonical stored form of one tag; empty string when nothing is left."""
    if is_network_span(raw):
        return raw.strip()
    tag = unescape(raw.strip())
    if not is_kaomoji(tag):
        tag = tag.replace("_", " ")
    return _WHITESPACE.sub(" ", tag).strip()


def lookup_key(tag: str) -> str:
    """Case-folded canonical form, the key tag-database lookups use."""
    return clean_tag(tag).casefold()


def format_for_output(tag: str, *, underscores: bool = False, escape: bool = True) -> str:
    r"""The export/prompt spelling of a stored tag: `long hair (cosplay)` -> `long_hair_\(cosplay\)`.

    Starts from the canonical form, so an already escaped or underscored input is not doubled.
    """
    if is_network_span(tag):
        return tag.strip()
    text = clean_tag(tag)
    if underscores and not is_kaomoji(text):
        text = text.replace(" ", "_")
    return escape_for_prompt(text) if escape else text


def split_raw(text: str) -> list[str]:
    """The non-empty pieces of a comma/newline list, stripped; `<lora:...>` spans kept whole.

    Pieces are not cleaned or deduplicated, so callers can keep the raw form beside the clean one.
    """
    pieces: list[str] = []
    position = 0
    for span in _NETWORK_SPAN.finditer(text):
        pieces.extend(_split_plain(text[position : span.start()]))
        pieces.append(span.group(0))
        position = span.end()
    pieces.extend(_split_plain(text[position:]))
    return pieces


def _split_plain(text: str) -> list[str]:
    return [piece.strip() for piece in _SEPARATORS.split(text) if piece.strip()]


def split_tags(text: str) -> list[str]:
    """A comma list as clean tags: separator runs collapsed, first of each duplicate kept."""
    seen: set[str] = set()
    tags: list[str] = []
    for piece in split_raw(text):
        tag = clean_tag(piece)
        key = tag.casefold()
        if tag and key not in seen:
            seen.add(key)
            tags.append(tag)
    return tags
