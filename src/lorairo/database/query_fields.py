"""The query fields: one object per field owns how its value parses, the SQL it compiles to, how it
prints back, and a Python `match` over plain in-memory facts (`ImageFacts`) that the property
tests compare the SQL against.

As beets' dbcore has one query class per value type, the classes here are per value type (text
with wildcards, phrase, number, date, list, keyword) and each field is one registered instance
that says where its rows live. Adding a field is one `register(...)` call in this module (plus a
fact on `ImageFacts` when `match` needs one): the parser (`lorairo.search.query_language`), the SQL
compiler (`lorairo.database.search_sql`), the canonical printer and the tests' reference
evaluation all look fields up here.

A field's SQL comes in one of two places:
- `row`: a condition on the `images` row itself; such terms filter id streams instead of being
  streams of their own;
- `rows`: (image-id column, row conditions) on another table; the term holds when such a row
  exists (or, for a `negated` field such as `missing:`, when none does).

A field whose SQL needs values computed outside SQL (ids ranked by a vector index) sets
`resolver`; the search service fills `Term.resolved` through the resolver of that name before the
query reaches SQL (`resolve_terms`), and the field's `row` reads it (`Image.id IN resolved`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    case,
    cast,
    column,
    exists,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    table,
    true,
)

from genai_tag_db_tools.cleaning import clean_tag
from lorairo.database.dialect import by_dialect, fold, nocase, nocase_like, text_match
from lorairo.database.effective import (
    DEFAULT_SCORE_KIND,
    effective_caption_row,
    effective_rating_row,
    effective_score_row,
    effective_tag,
    rejected_tag,
)
from lorairo.database.id_streams import Stream, combine, ids, joined, link
from lorairo.database.query import And, Node, Not, Operator, Or, Term
from lorairo.database.schema import (
    SOURCE_MANUAL,
    AnnotationFailure,
    Caption,
    Image,
    ImageCrop,
    ImageQuality,
    ImageSimilarity,
    Model,
    ModelAnnotation,
    Rating,
    Score,
    Tag,
    TagDecision,
    TagVocabulary,
)
from lorairo.errors import QuerySyntaxError, ValidationError
from lorairo.utils.quality_flags import (
    BLURRY_ABOVE,
    BRIGHT_ABOVE,
    DARK_BELOW,
    DEFAULT_TRAINING_RESOLUTION,
    LOW_CONTRAST_BELOW,
    is_blurry,
    is_bright,
    is_dark,
    is_low_contrast,
    is_small,
)

RATINGS = ("general", "sensitive", "questionable", "explicit")
WILDCARDS = frozenset("*?")
LIKE_ESCAPE = "\\"
# Beyond this many expanded tags a tag term reads one IN range (sorted once) instead of a UNION.
MAX_UNION_TAGS = 32
COMPARATORS: tuple[Operator, ...] = (">=", "<=", ">", "<", "=")


def query_error(column: int, message: str) -> QuerySyntaxError:
    """A query problem at a 1-based column of the query text."""
    return QuerySyntaxError(message, column)


# -- the plain in-memory model `match` reads ------------------------------------------------------


@dataclass(frozen=True)
class ImageFacts:
    """What one image *is* for search, as plain values: the effective rows already chosen.

    The property tests load these straight from the tables with their own reference rules, then
    compare `matches(node, facts)` with the SQL. A new field whose `match` needs a new fact adds
    it here with a default.
    """

    id: int
    name: str
    width: int
    height: int
    format: str
    created_at: datetime
    reviewed_at: datetime | None = None
    tags: tuple[str, ...] = ()  # the tags that count (accepted, not rejected or removed)
    rejected_tags: tuple[str, ...] = ()
    caption: str | None = None  # the effective caption
    scores: Mapping[str, float] = field(default_factory=dict)  # kind -> effective score
    rating: str | None = None  # the effective rating
    models: frozenset[str] = frozenset()  # models that annotated the image
    failures: frozenset[str] = frozenset()  # models that failed on it
    near_duplicate: bool = False
    edited: bool = False  # a person changed an annotation or decided on a tag
    cropped: bool = False
    quality: Mapping[str, Any] = field(default_factory=dict)  # `image_quality` column -> value; {} = none


# -- what a field gets to parse and compile -----------------------------------------------------


@dataclass(frozen=True)
class FieldValue:
    """One `field[qualifier]:value` as the tokenizer found it; columns are 1-based."""

    field: str
    value: str
    qualifier: str | None
    position: int  # column of the term
    value_position: int  # column of the value
    literal: bool = False  # quoted: `*` and `?` are plain characters


@dataclass(frozen=True)
class SqlContext:
    """What compiling a term may need besides the term: tag aliases (`tag:kitty` -> `cat`), the
    vocabulary expansions (`expansions`) run in the same read transaction beforehand, and the
    engine's name, which picks the shape of id-stream set operations (`id_streams.joined`)."""

    aliases: Mapping[str, str] = field(default_factory=dict)
    expanded: Mapping[Term, Sequence[str]] = field(default_factory=dict)
    dialect: str = "sqlite"


RowSql = Callable[[Term, SqlContext], ColumnElement[bool]]
RelatedSql = Callable[[Term, SqlContext], tuple[Any, list[Any]]]
Match = Callable[[Term, ImageFacts], bool]


class QueryField:
    """A field: parse a value, compile to SQL (`row` or `rows`), `match` in Python, `format` back.

    `loose`: a looser match of a bare word; results that match only through it rank after the
    others. `resolver`: the name of the service-supplied resolver that fills `Term.resolved`.
    """

    qualified = False

    def __init__(
        self,
        name: str,
        doc: str,
        *,
        match: Match,
        row: RowSql | None = None,
        rows: RelatedSql | None = None,
        negated: bool = False,
        loose: bool = False,
        resolver: str | None = None,
    ) -> None:
        if (row is None) == (rows is None):
            raise ValueError(f"field {name!r} needs exactly one of row= and rows=")
        self.name = name
        self.doc = doc
        self._match = match
        self._row = row
        self._rows = rows
        self.negated = negated
        self.loose = loose
        self.resolver = resolver

    # parsing and printing (per value type)

    def parse(self, spec: FieldValue) -> Node:
        raise NotImplementedError

    def format(self, term: Term) -> str:
        raise NotImplementedError

    def head(self, term: Term) -> str:
        return f"{self.name}[{term.qualifier}]:" if term.qualifier else f"{self.name}:"

    # Python

    def match(self, term: Term, image: ImageFacts) -> bool:
        return self._match(term, image)

    # SQL

    def row(self, term: Term, ctx: SqlContext) -> ColumnElement[bool] | None:
        """The condition on the `images` row, for fields that have one; it filters id streams."""
        return None if self._row is None else self._row(term, ctx)

    def related(self, term: Term, ctx: SqlContext) -> tuple[Any, list[Any]]:
        assert self._rows is not None, self.name
        return self._rows(term, ctx)

    def together(self, terms: Sequence[Term], ctx: SqlContext) -> tuple[Any, list[Any]] | None:
        """Several of this field's terms ANDed as one lookup of related rows, where that means the
        same as one lookup each (the field reads at most one row per image); else None."""
        return None

    def condition(self, term: Term, ctx: SqlContext) -> ColumnElement[bool]:
        """A per-image condition (correlated to `images`)."""
        row = self.row(term, ctx)
        if row is not None:
            return row
        image_id, conditions = self.related(term, ctx)
        found = exists().where(image_id == Image.id, *conditions)
        return not_(found) if self.negated else found

    def positive_stream(self, term: Term, ctx: SqlContext) -> Stream:
        """The ids having the rows (for a negated field: the ids it excludes)."""
        row = self.row(term, ctx)
        if row is not None:
            return ids(Image.id, row)
        image_id, conditions = self.related(term, ctx)
        return ids(image_id, *conditions)

    def stream(self, term: Term, ctx: SqlContext) -> Stream:
        """The matching ids as an id stream."""
        if self.negated:
            return link("EXCEPT", ids(Image.id), [self.positive_stream(term, ctx)], ctx.dialect)
        return self.positive_stream(term, ctx)

    def vocabulary(self, term: Term) -> Select[Any] | None:
        """A query over `tag_vocabulary` to run before compiling (its rows go to `ctx.expanded`)."""
        return None

    def strictly_equal(self, term: Term, ctx: SqlContext) -> bool:
        """For a loose field: whether it matches nothing beyond the exact value (so no ranking)."""
        return True


class Keyword(QueryField):
    """A bare keyword such as `untagged`: `Term("flag", qualifier=name)`, a condition on the row."""

    def __init__(
        self,
        name: str,
        doc: str,
        *,
        sql: Callable[[], ColumnElement[bool]],
        fact: Callable[[ImageFacts], bool],
    ) -> None:
        super().__init__(name, doc, row=lambda _term, _ctx: sql(), match=lambda _term, image: fact(image))

    def term(self, position: int) -> Term:
        return Term("flag", "=", None, position, qualifier=self.name)

    def format(self, term: Term) -> str:
        return self.name


class TextField(QueryField):
    """Text compared whole, case-insensitively, with `*`/`?` wildcards unless quoted."""

    def __init__(self, name: str, doc: str, *, clean: Callable[[str], str] = str, **kwargs: Any) -> None:
        super().__init__(name, doc, **kwargs)
        self.clean = clean

    def parse(self, spec: FieldValue) -> Node:
        cleaned = self.clean(spec.value)
        if not cleaned:
            raise query_error(spec.position, f"empty {spec.field} value")
        wildcard = not spec.literal and any(c in WILDCARDS for c in cleaned)
        return Term(self.name, "=", cleaned, spec.position, wildcard=wildcard)

    def format(self, term: Term) -> str:
        value = str(term.value)
        if term.wildcard:
            return self.head(term) + value.replace(" ", "_")
        return self.head(term) + quote_if_needed(value, literal=True)


class TagField(TextField):
    """Tags of one state (counted, or rejected): exact names through aliases, wildcards expanded
    over `tag_vocabulary` beforehand so the tag index is sought instead of LIKE over every row."""

    def __init__(
        self,
        name: str,
        doc: str,
        *,
        state: Callable[[], ColumnElement[bool]],
        fact: Callable[[ImageFacts], Sequence[str]],
        **kwargs: Any,
    ) -> None:
        self.state = state
        self.fact = fact
        super().__init__(
            name,
            doc,
            clean=clean_tag,
            rows=lambda term, ctx: (Tag.image_id, [self._tag_match(term, ctx), self.state()]),
            match=lambda term, image: any(self.matches_tag(term, tag) for tag in self.fact(image)),
            **kwargs,
        )

    def matches_tag(self, term: Term, tag: str) -> bool:
        value = str(term.value)
        if term.wildcard:
            return like_regex(value).fullmatch(tag) is not None
        return ascii_fold(tag) == ascii_fold(value)

    def vocabulary(self, term: Term) -> Select[Any] | None:
        return vocabulary_matches(str(term.value)) if term.wildcard else None

    def names(self, term: Term, ctx: SqlContext) -> list[str] | None:
        """The exact tags a term stands for; None for a wildcard nobody expanded (LIKE then)."""
        value = str(term.value)
        if term.wildcard:
            expanded = ctx.expanded.get(term)
            return None if expanded is None else list(expanded)
        resolved = ctx.aliases.get(value)
        return sorted({value, resolved}) if resolved else [value]

    def _tag_match(self, term: Term, ctx: SqlContext) -> ColumnElement[bool]:
        names = self.names(term, ctx)
        if names is None:
            return nocase_like(Tag.tag, like_pattern(str(term.value)), escape=LIKE_ESCAPE)
        if not names:
            return false()
        if len(names) == 1:
            return nocase(Tag.tag) == fold(names[0])
        return nocase(Tag.tag).in_(sorted({fold(name) for name in names}))

    def positive_stream(self, term: Term, ctx: SqlContext) -> Stream:
        names = self.names(term, ctx)
        if names is not None and 1 < len(names) <= MAX_UNION_TAGS and not joined(ctx.dialect):
            # One index range per tag, each in image-id order: a merge, not a sort. PostgreSQL
            # would hash the UNION; its one scan of the IN list is de-duplicated by the consumer.
            folded = sorted({fold(name) for name in names})
            members: list[Stream] = [
                ids(Tag.image_id, nocase(Tag.tag) == name, self.state()) for name in folded
            ]
            return combine("UNION", members, ctx.dialect)
        return super().positive_stream(term, ctx)


class TagWordField(TagField):
    """Tags containing a word (or words) whole: `red` -> "red", "red theme", "dark red eyes".

    Loose: the bare-word rule adds it beside the exact tag, and results it alone finds rank
    after the others. Expanded over `tag_vocabulary` like a wildcard; never aliased.
    """

    def parse(self, spec: FieldValue) -> Node:
        cleaned = clean_tag(spec.value)
        if not cleaned:
            raise query_error(spec.position, f"empty {spec.field} value")
        return Term(self.name, "=", cleaned, spec.position)

    def matches_tag(self, term: Term, tag: str) -> bool:
        return f" {ascii_fold(str(term.value))} " in f" {ascii_fold(tag)} "

    def _contains(self, column: Any, term: Term) -> ColumnElement[bool]:
        word = like_literal(str(term.value))
        patterns = (word, f"{word} %", f"% {word}", f"% {word} %")
        return or_(*(column.like(pattern, escape=LIKE_ESCAPE) for pattern in patterns))

    def vocabulary(self, term: Term) -> Select[Any] | None:
        return select(TagVocabulary.tag).where(self._contains(TagVocabulary.tag, term))

    def names(self, term: Term, ctx: SqlContext) -> list[str] | None:
        expanded = ctx.expanded.get(term)
        return None if expanded is None else list(expanded)

    def _tag_match(self, term: Term, ctx: SqlContext) -> ColumnElement[bool]:
        if self.names(term, ctx) is None:
            return self._contains(Tag.tag, term)
        return super()._tag_match(term, ctx)

    def strictly_equal(self, term: Term, ctx: SqlContext) -> bool:
        names = self.names(term, ctx)
        word = ascii_fold(str(term.value))
        return names is not None and all(ascii_fold(name) == word for name in names)

    def format(self, term: Term) -> str:
        return self.head(term) + quote_if_needed(str(term.value), literal=True)


class PhraseField(QueryField):
    """A phrase searched as words in full text (the value kept as typed)."""

    def parse(self, spec: FieldValue) -> Node:
        return Term(self.name, "=", spec.value, spec.position)

    def format(self, term: Term) -> str:
        return self.head(term) + quote(str(term.value))


class SimilarField(QueryField):
    """`similar:ID` (the nearest images by embedding) or `similar:ID>0.9` / `>=0.9` (every image at
    least that alike); the ids come from the service's `similar` resolver (a vector index)."""

    _VALUE = re.compile(r"(\d+)(?:(>=|>)(-?\d*\.?\d+))?")

    def parse(self, spec: FieldValue) -> Node:
        found = self._VALUE.fullmatch(spec.value)
        if found is None:
            raise query_error(
                spec.value_position, f"expected an image id, e.g. {self.name}:12 or {self.name}:12>0.9"
            )
        image_id, op, threshold = found.groups()
        if threshold is not None and not -1 <= float(threshold) <= 1:
            raise query_error(spec.value_position, f"a similarity is a cosine in [-1, 1], got {threshold}")
        if threshold is None:
            return Term(self.name, "=", (image_id,), spec.position)
        return Term(self.name, ">=" if op == ">=" else ">", (image_id, threshold), spec.position)

    def format(self, term: Term) -> str:
        assert isinstance(term.value, tuple)
        threshold = f"{term.op}{term.value[1]}" if len(term.value) > 1 else ""
        return f"{self.head(term)}{term.value[0]}{threshold}"


class ListField(QueryField):
    """`field:a,b,c`: one of several values; `normalise` checks and spells each item."""

    def __init__(
        self,
        name: str,
        doc: str,
        *,
        normalise: Callable[[tuple[str, ...], int], tuple[str, ...]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, doc, **kwargs)
        self.normalise = normalise

    def parse(self, spec: FieldValue) -> Node:
        items = tuple(item.strip() for item in spec.value.split(",") if item.strip())
        if not items:
            raise query_error(spec.value_position, f"field {spec.field!r} needs a value")
        if self.normalise is not None:
            items = self.normalise(items, spec.value_position)
        return Term(self.name, "=", items, spec.position)

    def format(self, term: Term) -> str:
        assert isinstance(term.value, tuple)
        return self.head(term) + quote_if_needed(",".join(term.value))


class FixedField(QueryField):
    """A field with one accepted value, such as `crop:set`."""

    def __init__(self, name: str, doc: str, *, value: str, **kwargs: Any) -> None:
        super().__init__(name, doc, **kwargs)
        self.value = value

    def parse(self, spec: FieldValue) -> Node:
        if spec.value.lower() != self.value:
            raise query_error(
                spec.value_position,
                f"{self.name} takes only the value {self.value!r} ({self.name}:{self.value}, -{self.name}:{self.value})",
            )
        return Term(self.name, "=", self.value, spec.position)

    def format(self, term: Term) -> str:
        return self.head(term) + self.value


# (image id column, the conditions picking the image's one row for the term, the value column)
Measured = Callable[[Term], tuple[Any, list[Any], Any]]


class NumberField(QueryField):
    """`>=5`, `<1`, `5`, or a range `5..7` (both ends inclusive).

    `measured`: a number read from a related table holding at most one row per image (for the
    term's qualifier). Its rows come from it, and comparisons ANDed together (a range's two ends)
    share one lookup of that row instead of one each (`together`)."""

    def __init__(self, name: str, doc: str, *, measured: Measured | None = None, **options: Any) -> None:
        if measured is not None:
            options["rows"] = lambda term, ctx: self._lookup([term], measured)
        super().__init__(name, doc, **options)
        self._measured = measured

    @staticmethod
    def _lookup(terms: Sequence[Term], measured: Measured) -> tuple[Any, list[Any]]:
        image_id, picks, value = measured(terms[0])
        return image_id, [*picks, *(compare(value, term.op, term.value) for term in terms)]

    def together(self, terms: Sequence[Term], ctx: SqlContext) -> tuple[Any, list[Any]] | None:
        return None if self._measured is None else self._lookup(terms, self._measured)

    def parse(self, spec: FieldValue) -> Node:
        return comparison(self, spec, parse_number)

    def exact(self, op: Operator, value: Any, text: str, spec: FieldValue) -> Node:
        return Term(self.name, op, value, spec.position, qualifier=spec.qualifier)

    def format(self, term: Term) -> str:
        value = term.value
        assert isinstance(value, float | int)
        text = str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))
        return self.head(term) + ("" if term.op == "=" else term.op) + text


class QualifiedNumberField(NumberField):
    """A number per kind: `score[quality]:>5`; without `[kind]` the service fills in the default."""

    qualified = True


class DateField(NumberField):
    """Dates and times; a bare date means the whole day (`>2026-01-01` starts on the 2nd)."""

    def parse(self, spec: FieldValue) -> Node:
        return comparison(self, spec, parse_date)

    def exact(self, op: Operator, value: Any, text: str, spec: FieldValue) -> Node:
        if len(text) == 10 and isinstance(value, datetime):
            return self._whole_day(op, value, spec.position)
        return Term(self.name, op, value, spec.position)

    def _whole_day(self, op: Operator, day: datetime, position: int) -> Node:
        next_day = day + timedelta(days=1)
        if op == ">":
            return Term(self.name, ">=", next_day, position)
        if op == "<=":
            return Term(self.name, "<", next_day, position)
        if op == "=":
            return And((Term(self.name, ">=", day, position), Term(self.name, "<", next_day, position)))
        return Term(self.name, op, day, position)

    def format(self, term: Term) -> str:
        assert isinstance(term.value, datetime)
        return self.head(term) + ("" if term.op == "=" else term.op) + term.value.isoformat()


# -- value helpers ------------------------------------------------------------------------------


def parse_number(text: str, position: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise query_error(position, f"expected a number, got {text!r}") from None


def parse_date(text: str, position: int) -> datetime:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time())
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise query_error(position, f"expected a date like 2026-01-31, got {text!r}") from None


def comparison(kind: NumberField, spec: FieldValue, convert: Callable[[str, int], Any]) -> Node:
    """`>=5`, `<1`, `5` or `5..7` for a number or date field."""
    value, value_position = spec.value, spec.value_position
    if ".." in value:
        low_text, high_text = value.split("..", 1)
        if not low_text or not high_text:
            raise query_error(value_position, f"a range needs both ends, like {spec.field}:1..5")
        low = convert(low_text, value_position)
        high = convert(high_text, value_position + len(low_text) + 2)
        lower = Term(kind.name, ">=", low, spec.position, qualifier=spec.qualifier)
        upper = kind.exact("<=", high, high_text, spec)
        return And((lower, upper))
    op: Operator = "="
    for candidate in COMPARATORS:
        if value.startswith(candidate):
            op, value = candidate, value[len(candidate) :]
            value_position += len(candidate)
            break
    if not value:
        raise query_error(value_position, f"field {spec.field!r} needs a value after {op!r}")
    return kind.exact(op, convert(value, value_position), value, spec)


def compare(left: Any, op: Operator, right: Any) -> Any:
    """`left op right`, for SQL expressions and Python values alike."""
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    return left == right


def ascii_fold(text: str) -> str:
    """Lower-case ASCII letters only, as SQLite's NOCASE and LIKE do."""
    return "".join(c.lower() if c.isascii() else c for c in text)


def like_pattern(pattern: str) -> str:
    """`*_hair` -> `%\\_hair`: escape LIKE's own wildcards, then map `*`/`?` onto them."""
    return "%".join("_".join(like_literal(piece) for piece in part.split("?")) for part in pattern.split("*"))


def like_literal(text: str) -> str:
    """`text` matched literally by LIKE: its `%`, `_` and escape characters escaped."""
    return "".join(LIKE_ESCAPE + char if char in "%_\\" else char for char in text)


def like_regex(pattern: str) -> re.Pattern[str]:
    """The Python twin of `like_pattern` (ASCII case folded, as LIKE does)."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.ASCII | re.DOTALL)


def fts_phrase(text: str) -> str:
    """One FTS5 phrase: the text double-quoted with inner quotes doubled, so operators are inert."""
    return '"' + text.replace('"', '""') + '"'


def phrase_in(phrase: str, text: str) -> bool:
    """The Python twin of an FTS5 phrase match (unicode61 tokens, case folded)."""
    wanted, words = _words(phrase), _words(text)
    return bool(wanted) and any(words[i : i + len(wanted)] == wanted for i in range(len(words)))


def _words(text: str) -> list[str]:
    return [t.casefold() for t in re.findall(r"\w+", text)]


def vocabulary_matches(pattern: str) -> Select[Any]:
    """The distinct tags (ignoring case) a wildcard matches, from the small `tag_vocabulary`.

    LIKE and NOCASE fold the same (ASCII) letters, so matching one spelling of a tag stands for
    all its case variants, which `tag COLLATE NOCASE IN (...)` then finds.
    """
    return select(TagVocabulary.tag).where(
        nocase_like(TagVocabulary.tag, like_pattern(pattern), escape=LIKE_ESCAPE)
    )


_PLAIN = re.compile(r"[^\s\"()\[\]\\]+")


def quote(text: str) -> str:
    """A double-quoted query value (the tokenizer's escapes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_if_needed(text: str, *, literal: bool = False) -> str:
    """`text` as a query value that reads back the same; quoted only where it has to be."""
    plain = _PLAIN.fullmatch(text) is not None and not text.startswith("-")
    if plain and not (literal and any(c in WILDCARDS for c in text)):
        return text
    return quote(text)


# -- the fields ---------------------------------------------------------------------------------

FIELDS: dict[str, QueryField] = {}
KEYWORDS: dict[str, Keyword] = {}


def register(item: QueryField) -> QueryField:
    """Add a field (or a `Keyword`) to the query language."""
    table: dict[str, Any] = KEYWORDS if isinstance(item, Keyword) else FIELDS
    if item.name in table:
        raise ValueError(f"query field {item.name!r} is registered twice")
    table[item.name] = item
    return item


def field_of(term: Term) -> QueryField:
    """The registered field a term belongs to."""
    found = KEYWORDS.get(str(term.qualifier)) if term.field == "flag" else FIELDS.get(term.field)
    if found is None:
        what = "keyword" if term.field == "flag" else "field"
        raise ValidationError(
            f"at column {term.position}: unknown {what} {term.qualifier if term.field == 'flag' else term.field!r}"
        )
    return found


def _edited() -> ColumnElement[bool]:
    """A person changed something: a manual row, a manually edited row, or a tag decision."""
    decided = or_(
        TagDecision.rejected_at.is_not(None),
        TagDecision.removed_at.is_not(None),
        TagDecision.position.is_not(None),
    )
    parts: list[ColumnElement[bool]] = [exists().where(TagDecision.image_id == Image.id, decided)]
    for model in (Tag, Caption, Score, Rating):
        parts.append(
            exists().where(
                model.image_id == Image.id,
                or_(model.source == SOURCE_MANUAL, model.is_edited_manually == true()),
            )
        )
    return or_(*parts)


def _ratings(items: tuple[str, ...], position: int) -> tuple[str, ...]:
    items = tuple(item.lower() for item in items)
    bad = [item for item in items if item not in RATINGS]
    if bad:
        raise query_error(position, f"unknown rating {bad[0]!r} (use {', '.join(RATINGS)})")
    return items


def _formats(items: tuple[str, ...], _position: int) -> tuple[str, ...]:
    return tuple("JPEG" if item.upper() == "JPG" else item.upper() for item in items)


def _model_rows(term: Term, _ctx: SqlContext) -> tuple[Any, list[Any]]:
    names = tuple(term.value) if isinstance(term.value, tuple) else ()
    return ModelAnnotation.image_id, [
        ModelAnnotation.model_id.in_(select(Model.id).where(Model.name.in_(names)))
    ]


def _values(term: Term) -> tuple[str, ...]:
    assert isinstance(term.value, tuple)
    return term.value


def _image_number(column: Any, fact: Callable[[ImageFacts], float]) -> dict[str, Any]:
    return {
        "row": lambda term, _ctx: compare(column, term.op, term.value),
        "match": lambda term, image: bool(compare(fact(image), term.op, term.value)),
    }


def _score(term: Term, image: ImageFacts) -> bool:
    score = image.scores.get(term.qualifier or DEFAULT_SCORE_KIND)
    return score is not None and bool(compare(score, term.op, term.value))


def _caption_rows(term: Term, _ctx: SqlContext) -> tuple[Any, list[Any]]:
    """FTS5 on SQLite, the GIN tsvector index on PostgreSQL (`database/dialect.py`)."""
    phrase = str(term.value)
    fts = select(_CAPTIONS_FTS.c.rowid).where(_FTS_COLUMN.match(fts_phrase(phrase)))
    match = by_dialect(sqlite=Caption.id.in_(fts), postgresql=text_match(Caption.caption, phrase))
    return Caption.image_id, [match, effective_caption_row()]


def _name_row(term: Term, _ctx: SqlContext) -> ColumnElement[bool]:
    value = str(term.value)
    if term.wildcard:
        return nocase_like(Image.name, like_pattern(value), escape=LIKE_ESCAPE)
    return nocase(Image.name) == fold(value)


def _name_match(term: Term, image: ImageFacts) -> bool:
    if term.wildcard:
        return like_regex(str(term.value)).fullmatch(image.name) is not None
    return ascii_fold(image.name) == ascii_fold(str(term.value))


_CAPTIONS_FTS = table("captions_fts", column("rowid"))
_FTS_COLUMN: ColumnElement[str] = literal_column("captions_fts")

register(
    TagField(
        "tag",
        "tags that count (accepted, not rejected or removed); * and ? wildcards",
        state=effective_tag,
        fact=lambda image: image.tags,
    )
)
register(
    TagField("rejected", "tags a person rejected", state=rejected_tag, fact=lambda image: image.rejected_tags)
)
register(
    TagWordField(
        "tagword",
        "tags containing the word whole (red -> red theme); bare words add it",
        state=effective_tag,
        fact=lambda image: image.tags,
        loose=True,
    )
)
register(TextField("name", "file name; * and ? wildcards", row=_name_row, match=_name_match))
register(
    PhraseField(
        "caption",
        "words of the effective caption, as a phrase",
        rows=_caption_rows,
        match=lambda term, image: image.caption is not None and phrase_in(str(term.value), image.caption),
    )
)
register(
    QualifiedNumberField(
        "score",
        "effective score of a kind (score[kind]:), default kind without one",
        measured=lambda term: (
            Score.image_id,
            effective_score_row(term.qualifier or DEFAULT_SCORE_KIND),
            Score.score,
        ),
        match=_score,
    )
)
register(NumberField("width", "width in pixels", **_image_number(Image.width, lambda image: image.width)))
register(NumberField("height", "height in pixels", **_image_number(Image.height, lambda image: image.height)))
register(NumberField("id", "image id", **_image_number(Image.id, lambda image: image.id)))
register(
    NumberField(
        "aspect",
        "width / height",
        **_image_number(cast(Image.width, Float) / Image.height, lambda image: image.width / image.height),
    )
)
register(
    DateField(
        "added",
        "when the image was registered",
        row=lambda term, _ctx: compare(Image.created_at, term.op, term.value),
        match=lambda term, image: bool(compare(image.created_at, term.op, term.value)),
    )
)
register(
    ListField(
        "rating",
        "effective rating is one of",
        normalise=_ratings,
        rows=lambda term, _ctx: (Rating.image_id, [effective_rating_row(), Rating.rating.in_(_values(term))]),
        match=lambda term, image: image.rating in _values(term),
    )
)
register(
    ListField(
        "format",
        "file format is one of (jpg = jpeg)",
        normalise=_formats,
        row=lambda term, _ctx: func.upper(Image.format).in_(_values(term)),
        match=lambda term, image: image.format.upper() in _values(term),
    )
)
register(
    ListField(
        "model",
        "annotated by one of these models",
        rows=_model_rows,
        match=lambda term, image: bool(image.models & set(_values(term))),
    )
)
register(
    ListField(
        "missing",
        "not annotated by any of these models",
        rows=_model_rows,
        negated=True,
        match=lambda term, image: not image.models & set(_values(term)),
    )
)
register(
    ListField(
        "failed",
        "a run of one of these models failed on the image",
        rows=lambda term, _ctx: (
            AnnotationFailure.image_id,
            [AnnotationFailure.model_name.in_(_values(term))],
        ),
        match=lambda term, image: bool(image.failures & set(_values(term))),
    )
)
register(
    FixedField(
        "crop",
        "crop:set: the image has a non-destructive crop",
        value="set",
        rows=lambda _term, _ctx: (ImageCrop.image_id, []),
        match=lambda _term, image: image.cropped,
    )
)
register(Keyword("all", "every image", sql=true, fact=lambda _image: True))
register(
    Keyword(
        "untagged",
        "no tag counts",
        sql=lambda: ~exists().where(Tag.image_id == Image.id, effective_tag()),
        fact=lambda image: not image.tags,
    )
)
register(
    Keyword(
        "near-duplicate",
        "a pHash near-duplicate of another image",
        sql=lambda: or_(
            exists().where(ImageSimilarity.image_id == Image.id),
            exists().where(ImageSimilarity.similar_to_id == Image.id),
        ),
        fact=lambda image: image.near_duplicate,
    )
)
register(
    Keyword(
        "failed",
        "a model run failed on the image",
        sql=lambda: exists().where(AnnotationFailure.image_id == Image.id),
        fact=lambda image: bool(image.failures),
    )
)
register(Keyword("edited", "a person changed an annotation", sql=_edited, fact=lambda image: image.edited))
register(
    Keyword(
        "reviewed",
        "marked reviewed",
        sql=lambda: Image.reviewed_at.is_not(None),
        fact=lambda image: image.reviewed_at is not None,
    )
)


def _quality_number(name: str) -> dict[str, Any]:
    """A measure of `image_quality` (an image without one matches no comparison)."""
    measure = getattr(ImageQuality, name)
    return {
        "measured": lambda term: (ImageQuality.image_id, [], measure),
        "match": lambda term, image: (
            image.quality.get(name) is not None and bool(compare(image.quality[name], term.op, term.value))
        ),
    }


def _quality_flag(condition: Callable[[], ColumnElement[bool]]) -> Callable[[], ColumnElement[bool]]:
    return lambda: exists().where(ImageQuality.image_id == Image.id, condition())


for _name, _doc in (
    ("blur", "0 (crisp) .. 1 (no edges); blur:>0.8 is what the `blurry` badge shows"),
    ("sharpness", "variance of the Laplacian at the 256-px analysis scale"),
    ("brightness", "mean luma, 0 (black) .. 1 (white)"),
    ("contrast", "RMS contrast, 0 (flat) .. 1"),
    ("border", "share of the image in uniform bars along its edges, 0..1"),
    ("jpeg_quality", "the IJG quality 1..100 a JPEG was saved at (estimated)"),
):
    register(NumberField(_name, _doc, **_quality_number(_name)))
register(
    Keyword(
        "blurry",
        f"blur above {BLURRY_ABOVE}",
        sql=_quality_flag(lambda: ImageQuality.blur > BLURRY_ABOVE),
        fact=lambda image: is_blurry(image.quality.get("blur")),
    )
)
register(
    Keyword(
        "dark",
        f"brightness below {DARK_BELOW}",
        sql=_quality_flag(lambda: ImageQuality.brightness < DARK_BELOW),
        fact=lambda image: is_dark(image.quality.get("brightness")),
    )
)
register(
    Keyword(
        "bright",
        f"brightness above {BRIGHT_ABOVE}",
        sql=_quality_flag(lambda: ImageQuality.brightness > BRIGHT_ABOVE),
        fact=lambda image: is_bright(image.quality.get("brightness")),
    )
)
register(
    Keyword(
        "low-contrast",
        f"contrast below {LOW_CONTRAST_BELOW}",
        sql=_quality_flag(lambda: ImageQuality.contrast < LOW_CONTRAST_BELOW),
        fact=lambda image: is_low_contrast(image.quality.get("contrast")),
    )
)
register(
    Keyword(
        "letterbox",
        "bars of one colour on opposite sides (letterbox or pillarbox)",
        sql=_quality_flag(lambda: ImageQuality.letterbox.is_(True)),
        fact=lambda image: bool(image.quality.get("letterbox")),
    )
)


def _resolved_row(term: Term, _ctx: SqlContext) -> ColumnElement[bool]:
    return Image.id.in_(term.resolved or ())


def _resolved_match(term: Term, image: ImageFacts) -> bool:
    return image.id in (term.resolved or ())


register(
    SimilarField(
        "similar",
        "images like image ID by embedding (similar:ID, similar:ID>0.9)",
        resolver="similar",
        row=_resolved_row,
        match=_resolved_match,
    )
)
register(
    PhraseField(
        "text",
        'images an embedder\'s text encoder finds nearest the words (text:"red dress")',
        resolver="text",
        row=_resolved_row,
        match=_resolved_match,
    )
)


class SmallKeyword(Keyword):
    """`small`: the long side is shorter than the training resolution, which the search service
    puts in the term's value (the project's largest target resolution)."""

    def __init__(self) -> None:
        super().__init__(
            "small",
            "long side shorter than the training resolution",
            sql=true,
            fact=lambda _image: True,
        )

    def row(self, term: Term, ctx: SqlContext) -> ColumnElement[bool]:
        long_side = case((Image.width >= Image.height, Image.width), else_=Image.height)
        return long_side < self._resolution(term)

    def match(self, term: Term, image: ImageFacts) -> bool:
        return is_small(image.width, image.height, self._resolution(term))

    @staticmethod
    def _resolution(term: Term) -> int:
        return int(term.value) if isinstance(term.value, int | float) else DEFAULT_TRAINING_RESOLUTION


register(SmallKeyword())


# -- whole queries ------------------------------------------------------------------------------


def terms(node: Node) -> Iterator[Term]:
    """Every term of a query, left to right."""
    if isinstance(node, Term):
        yield node
    elif isinstance(node, Not):
        yield from terms(node.child)
    else:
        for child in node.children:
            yield from terms(child)


def matches(node: Node, image: ImageFacts) -> bool:
    """The Python evaluation of a query on one image: the reference the SQL is tested against."""
    if isinstance(node, Term):
        return field_of(node).match(node, image)
    if isinstance(node, Not):
        return not matches(node.child, image)
    if isinstance(node, And):
        return all(matches(child, image) for child in node.children)
    return any(matches(child, image) for child in node.children)


def canonical(node: Node) -> str:
    """The query as the parser understood it, in a form that parses back to the same tree:
    every term spelled out (`red` -> `tag:red OR ... `), AND binding tighter than OR."""
    return _format(node, inside=None)


def _format(node: Node, inside: type | None) -> str:
    if isinstance(node, Term):
        return field_of(node).format(node)
    if isinstance(node, Not):
        return "-" + _format(node.child, Not)  # AND and OR parenthesise themselves under `-`
    if isinstance(node, And):
        text = " ".join(_format(child, And) for child in node.children)
        return f"({text})" if inside is Not else text
    text = " OR ".join(_format(child, Or) for child in node.children)
    return f"({text})" if inside in {And, Not} else text


Resolver = Callable[[Term], Sequence[int]]


def resolve_terms(node: Node, resolvers: Mapping[str, Resolver]) -> Node:
    """Fill `Term.resolved` for fields that need values computed outside SQL."""
    if isinstance(node, Term):
        name = field_of(node).resolver
        if name is None:
            return node
        resolver = resolvers.get(name)
        if resolver is None:
            raise ValidationError(
                f"at column {node.position}: {node.field}: needs {name}, which this project lacks"
            )
        return replace(node, resolved=tuple(resolver(node)))
    if isinstance(node, Not):
        return Not(resolve_terms(node.child, resolvers))
    children = tuple(resolve_terms(child, resolvers) for child in node.children)
    return And(children) if isinstance(node, And) else Or(children)
