"""The search query language shared by the CLI, the GUI search bar and export.

Parsed once into the query tree of `lorairo.database.query`, which `lorairo.database.search_sql`
compiles to SQL, so every surface agrees on what a query means. This module is the grammar (words,
quotes, parentheses, negation, AND/OR); what a `field:value` means, from parsing its value to its
SQL, is the field's, registered in `lorairo.database.query_fields`. Precedence, loosest first: `OR`, then AND (a space or `AND`), then
negation (`-term`, `NOT term`). Errors name the 1-based column so the GUI can point at it.

    tag:1girl -tag:monochrome tag:*_hair (tag:cat OR tag:dog) caption:"red dress"
    score:>6.5 score[aesthetic]:>=5 rating:general,sensitive width:>=1024 aspect:<1
    format:png model:wd-vit-tagger-v3 missing:wd-vit-tagger-v3 untagged near-duplicate tagword:red
    failed edited reviewed added:>2026-01-01 name:*cosplay* rejected:monochrome id:1..50 crop:set
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genai_tag_db_tools.cleaning import clean_tag
from lorairo.database.query import And, Node, Not, Or, Term
from lorairo.database.query_fields import FIELDS as FIELD_REGISTRY
from lorairo.database.query_fields import KEYWORDS, RATINGS, WILDCARDS, FieldValue, query_error
from lorairo.errors import QuerySyntaxError

__all__ = [
    "FIELDS",
    "FLAGS",
    "MAX_DEPTH",
    "RATINGS",
    "WILDCARDS",
    "and_parts",
    "parse_query",
    "tokenize",
    "word_span",
]

# Names for completion and help; the fields themselves live in `query_fields`.
FIELDS = frozenset(FIELD_REGISTRY)
FLAGS = frozenset(KEYWORDS)
# Parentheses and negations nest by recursion here and in the SQL compiler; a limit far beyond
# any hand-written query keeps a pasted or generated one from exhausting the stack.
MAX_DEPTH = 100


@dataclass(frozen=True)
class _Token:
    kind: Literal["word", "lparen", "rparen", "neg"]
    text: str
    position: int
    end: int  # offset just past the token in the query
    quoted: bool = False
    phrase: bool = False


def _error(position: int, message: str) -> QuerySyntaxError:
    return query_error(position, message)


def _read_quoted(query: str, start: int) -> tuple[str, int]:
    """Read a double-quoted string starting at `start` (the quote); `\\"` escapes a quote."""
    out: list[str] = []
    i = start + 1
    while i < len(query):
        char = query[i]
        if char == "\\" and i + 1 < len(query) and query[i + 1] in '"\\':
            out.append(query[i + 1])
            i += 2
            continue
        if char == '"':
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise _error(start + 1, "unterminated quote")


def tokenize(query: str) -> list[_Token]:
    """Split a query into words, parentheses and negations.

    Parentheses inside a word belong to it when balanced (`tag:miku_(cosplay)`), so tag names with
    qualifiers need no quoting; a quote inside a word (`caption:"red dress"`) runs to its partner.
    """
    tokens: list[_Token] = []
    i = 0
    while i < len(query):
        char = query[i]
        if char.isspace():
            i += 1
        elif char == "(":
            tokens.append(_Token("lparen", char, i + 1, i + 1))
            i += 1
        elif char == ")":
            tokens.append(_Token("rparen", char, i + 1, i + 1))
            i += 1
        elif char == "-" and i + 1 < len(query) and not query[i + 1].isspace() and query[i + 1] != ")":
            tokens.append(_Token("neg", char, i + 1, i + 1))
            i += 1
        elif char == "-":
            raise _error(i + 1, "'-' needs a search term right after it, like -tag:monochrome")
        elif char == '"':
            text, i_next = _read_quoted(query, i)
            tokens.append(_Token("word", text, i + 1, i_next, quoted=True, phrase=True))
            i = i_next
        else:
            start = i
            parts: list[str] = []
            quoted = False
            opened: list[int] = []  # columns of the '(' still open inside this word
            while i < len(query):
                char = query[i]
                if char.isspace() or (char == ")" and not opened):
                    break
                if char == '"':
                    text, i = _read_quoted(query, i)
                    parts.append(text)
                    quoted = True
                    continue
                if char == "(":
                    opened.append(i + 1)
                elif char == ")":
                    opened.pop()
                parts.append(char)
                i += 1
            if opened:
                raise _error(opened[-1], "unclosed '(' in a word (quote the value if it is part of a tag)")
            tokens.append(_Token("word", "".join(parts), start + 1, i, quoted=quoted))
    return tokens


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.index = 0
        self.depth = 0
        # (first, last) token index of each part of a top-level AND, per top-level OR branch
        self.top_parts: list[list[tuple[int, int]]] = []

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(token.position, f"more than {MAX_DEPTH} levels of nested parentheses or negations")

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def is_keyword(self, token: _Token | None, keyword: str) -> bool:
        return token is not None and token.kind == "word" and not token.quoted and token.text == keyword

    def parse(self) -> Node:
        if not self.tokens:
            return KEYWORDS["all"].term(1)
        node = self.parse_or()
        token = self.peek()
        if token is not None:
            raise _error(token.position, f"unexpected {token.text!r}")
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.is_keyword(self.peek(), "OR"):
            self.take()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        spans = [(self.index, 0)]
        children = [self.parse_unary()]
        spans[0] = (spans[0][0], self.index - 1)
        while True:
            token = self.peek()
            if token is None or token.kind == "rparen" or self.is_keyword(token, "OR"):
                break
            if self.is_keyword(token, "AND"):
                self.take()
            first = self.index
            children.append(self.parse_unary())
            spans.append((first, self.index - 1))
        if self.depth == 0:
            self.top_parts.append(spans)
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_unary(self) -> Node:
        token = self.peek()
        if token is None:
            raise _error(len(self.query) + 1, "expected a search term at the end of the query")
        if token.kind == "neg" or self.is_keyword(token, "NOT"):
            self.take()
            self.enter(token)
            child = self.parse_unary()
            self.depth -= 1
            return Not(child)
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.take()
        if token.kind == "lparen":
            self.enter(token)
            node = self.parse_or()
            closing = self.peek()
            if closing is None or closing.kind != "rparen":
                raise _error(token.position, "unclosed parenthesis")
            self.take()
            self.depth -= 1
            return node
        if token.kind == "rparen":
            raise _error(token.position, "unexpected ')'")
        if token.text in {"AND", "OR"} and not token.quoted:
            raise _error(token.position, f"{token.text} needs a search term on both sides")
        return _parse_term(token)


def _split_field(token: _Token) -> tuple[str, str | None, str, int] | None:
    """`score[aesthetic]:>=5` -> ("score", "aesthetic", ">=5", column of the value)."""
    raw = token.text
    if not token.quoted and raw.count("[") > raw.count("]"):
        raise _error(token.position + raw.rindex("["), "unclosed '[' (like score[aesthetic]:>5)")
    colon = raw.find(":")
    if token.phrase or colon <= 0:
        return None
    head, value = raw[:colon], raw[colon + 1 :]
    qualifier = None
    if "[" in head and not head.endswith("]"):
        raise _error(token.position + head.index("["), "unclosed '[' (like score[aesthetic]:>5)")
    if "]" in head and "[" not in head:
        raise _error(token.position + head.index("]"), "']' without '['")
    if head.endswith("]") and "[" in head:
        head, qualifier = head[: head.index("[")], head[head.index("[") + 1 : -1]
    if not head.replace("-", "").replace("_", "").isalnum():
        return None
    return head.lower(), qualifier, value, token.position + colon + 1


def _parse_term(token: _Token) -> Node:
    split = _split_field(token)
    if split is None:
        keyword = KEYWORDS.get(token.text.lower()) if not token.quoted else None
        if keyword is not None:
            return keyword.term(token.position)
        if not token.text.strip():
            raise _error(token.position, "empty search term")
        return _bare(token)
    name, qualifier, value, value_position = split
    field = FIELD_REGISTRY.get(name)
    if field is None:
        raise _error(token.position, f"unknown field {name!r}")
    if qualifier is not None and not field.qualified:
        raise _error(token.position, f"field {name!r} takes no [qualifier]")
    if qualifier is not None and not qualifier:
        raise _error(token.position, "empty [qualifier]")
    if not value:
        raise _error(value_position, f"field {name!r} needs a value")
    return field.parse(FieldValue(name, value, qualifier, token.position, value_position, token.quoted))


def _bare(token: _Token) -> Node:
    """A bare word or phrase searches tags and captions: the exact tag, the caption phrase, and
    (loosely, ranked after those) tags containing it whole, so `red` also finds "red theme"."""
    cleaned = clean_tag(token.text)
    if not cleaned:
        raise _error(token.position, "empty search term")
    wildcard = not token.quoted and any(c in WILDCARDS for c in cleaned)
    tag = Term("tag", "=", cleaned, token.position, wildcard=wildcard)
    if wildcard:
        return tag
    caption = Term("caption", "=", token.text, token.position)
    return Or((tag, caption, Term("tagword", "=", cleaned, token.position)))


def parse_query(query: str) -> Node:
    """Parse a query string; raises `QuerySyntaxError` (a `ValidationError`) with the column of
    the first problem and the query, so a shell can point at it."""
    try:
        return _Parser(query).parse()
    except QuerySyntaxError as error:
        error.query = query
        raise


def and_parts(query: str) -> list[tuple[int, int]]:
    """The (start, end) offsets of the parts a top-level AND joins (`tag:a -tag:b (c OR d)` has
    three); empty when the query is not an AND of several parts (an OR at the top, one term)."""
    parser = _Parser(query)
    parser.parse()
    if len(parser.top_parts) != 1 or len(parser.top_parts[0]) < 2:
        return []
    tokens = parser.tokens
    return [(tokens[first].position - 1, tokens[last].end) for first, last in parser.top_parts[0]]


def word_span(query: str, column: int) -> tuple[int, int] | None:
    """The (start, end) offsets of the word that starts at a term's column, as typed."""
    for token in tokenize(query):
        if token.kind == "word" and token.position == column:
            return token.position - 1, token.end
    return None
