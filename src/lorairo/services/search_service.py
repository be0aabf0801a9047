"""Search over a project: the one entry point the CLI, the GUI and export use to select images.

A query string is parsed once; exact tag terms are passed through an optional alias resolver (the
tag database's `TagService.resolve_aliases`) so `tag:kitty` also finds images stored as `cat`, and
terms of fields that need values computed outside SQL (a field's `resolver`, see
`lorairo.database.query_fields`) are resolved through `term_resolvers` by that name.

Which order results come in is decided here, in `sort_for`: an explicit sort key wins; without
one, a query with a `similar:` or `text:` term is ordered by similarity (most similar first, the
order its resolver returned), any other by date added.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lorairo.database.browse_repository import GridFlags, grid_flags
from lorairo.database.engine import StoreSession
from lorairo.database.query import And, Node, Not, Or, Term
from lorairo.database.query_fields import Resolver, canonical, quote_if_needed, resolve_terms, terms
from lorairo.database.search_repository import Facets, ImageSummary, SearchRepository, TagCount
from lorairo.database.search_sql import SORT_KEYS
from lorairo.errors import QuerySyntaxError, ValidationError
from lorairo.search.query_language import and_parts, parse_query, word_span
from lorairo.services.choices import SIMILARITY_SORT, SORTS
from lorairo.services.project_service import Project

AliasResolver = Callable[[list[str]], dict[str, str]]
MAX_PAGE = 10_000
# An empty result tries at most this many "drop one part" queries for its suggestion.
MAX_DROP_TRIES = 12

DEFAULT_SORT = "added"

__all__ = [
    "DEFAULT_SORT",
    "SIMILARITY_SORT",
    "SORTS",
    "SORT_KEYS",
    "AliasResolver",
    "Facets",
    "ImageSummary",
    "QueryExplanation",
    "Resolver",
    "SearchPage",
    "SearchService",
    "Suggestion",
    "TagCount",
]


@dataclass(frozen=True)
class SearchPage:
    """One page of results; `total` is the full match count (None when not asked for)."""

    query: str
    ids: list[int]
    summaries: list[ImageSummary]
    total: int | None
    limit: int
    offset: int
    sort: str
    seed: int = 0
    aliases: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "sort": self.sort,
            "seed": self.seed,
            "aliases": self.aliases,
            "ids": self.ids,
            "images": [summary.to_dict() for summary in self.summaries],
        }


@dataclass(frozen=True)
class Suggestion:
    """A query that finds something where the asked one found nothing, and why it is offered."""

    query: str
    reason: str
    total: int

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "reason": self.reason, "total": self.total}


@dataclass(frozen=True)
class QueryExplanation:
    """What a query was understood as (`parsed`, the canonical form of its tree), how many images
    it matches, and for an empty result a `suggestion`; `message` says it in one sentence."""

    query: str
    parsed: str
    total: int
    suggestion: Suggestion | None

    @property
    def message(self) -> str:
        if self.total:
            return f"{self.total:,} images match {self.parsed}"
        text = f"No images match {self.parsed}"
        if self.suggestion is not None:
            found = f"{self.suggestion.total:,} image{'' if self.suggestion.total == 1 else 's'}"
            text += f". {self.suggestion.reason}: try {self.suggestion.query} ({found})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "parsed": self.parsed,
            "total": self.total,
            "suggestion": None if self.suggestion is None else self.suggestion.to_dict(),
            "message": self.message,
        }


def check_query(query: str) -> QuerySyntaxError | None:
    """The query's syntax error (with its `column`), or None: for a query bar checking as the
    user types, without touching the project."""
    try:
        parse_query(query)
    except QuerySyntaxError as error:
        return error
    return None


def exact_tag_terms(node: Node) -> list[str]:
    """The exact (non-wildcard) tag values in a query, for alias resolution."""
    if isinstance(node, Term):
        if node.field in {"tag", "rejected"} and not node.wildcard and isinstance(node.value, str):
            return [node.value]
        return []
    if isinstance(node, Not):
        return exact_tag_terms(node.child)
    assert isinstance(node, And | Or)
    return [value for child in node.children for value in exact_tag_terms(child)]


def ranking(node: Node) -> tuple[int, ...] | None:
    """The ids of the query's first resolved term (`similar:`, `text:`) that every result must
    match, most similar first; None when it has none (under OR or NOT such a term only filters)."""
    for part in node.children if isinstance(node, And) else (node,):
        if isinstance(part, Term) and part.resolved is not None:
            return part.resolved
    return None


def sort_for(sort: str | None, node: Node) -> str:
    """The order of a query's results (see the module's docstring): `sort` when given, else
    similarity for a query that ranks, else date added."""
    if sort is None:
        return SIMILARITY_SORT if ranking(node) is not None else DEFAULT_SORT
    if sort == SIMILARITY_SORT and ranking(node) is None:
        raise ValidationError("sort similarity needs a similar: or text: term that every result matches")
    if sort not in SORTS:
        raise ValidationError(f"unknown sort key {sort!r} (use {', '.join(SORTS)})")
    return sort


def with_project_settings(node: Node, kind: str, resolution: int) -> Node:
    """`score:` without `[kind]` made explicit as the configured default kind, and `small` given
    the project's training resolution."""
    if isinstance(node, Term):
        if node.field == "score" and node.qualifier is None:
            return replace(node, qualifier=kind)
        if node.field == "flag" and node.qualifier == "small":
            return replace(node, value=resolution)
        return node
    if isinstance(node, Not):
        return Not(with_project_settings(node.child, kind, resolution))
    children = tuple(with_project_settings(child, kind, resolution) for child in node.children)
    return And(children) if isinstance(node, And) else Or(children)


class SearchService:
    def __init__(
        self,
        project: Project,
        resolver: AliasResolver | None = None,
        term_resolvers: Mapping[str, Resolver] | None = None,
    ) -> None:
        self.project = project
        self.repository = SearchRepository(project.score_kind)
        self.resolver = resolver
        self.term_resolvers = dict(term_resolvers or {})

    def parse(self, query: str) -> tuple[Node, dict[str, str]]:
        """Parse, resolve terms and aliases once; reuse the pair for several calls on one query."""
        node = with_project_settings(
            parse_query(query), self.project.score_kind, self.project.training_resolution
        )
        node = resolve_terms(node, self.term_resolvers)
        aliases: dict[str, str] = {}
        if self.resolver is not None:
            terms = sorted(set(exact_tag_terms(node)))
            if terms:
                aliases = {
                    term: canonical
                    for term, canonical in self.resolver(terms).items()
                    if canonical and canonical != term
                }
        return node, aliases

    def search(
        self,
        query: str,
        *,
        sort: str | None = None,
        limit: int = 100,
        offset: int = 0,
        seed: int = 0,
        with_total: bool = True,
        known_total: int | None = None,
    ) -> SearchPage:
        """One page of summaries in `sort_for(sort)`'s order (the page says which). `known_total`
        (with `with_total=False`): the result count the caller already has, so the page is not
        preceded by a count; a stale one only affects the query plan, never the rows."""
        if not 0 < limit <= MAX_PAGE:
            raise ValidationError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
        if offset < 0:
            raise ValidationError(f"offset must not be negative, got {offset}")
        node, aliases = self.parse(query)
        sort = sort_for(sort, node)
        total: int | None = None
        if sort == SIMILARITY_SORT:
            ranked = self._by_similarity(node, aliases)
            ids, total = ranked[offset : offset + limit], len(ranked) if with_total else None
            with self.project.database.read_session() as session:
                summaries = self.repository.summaries(session, ids)
        else:
            with self.project.database.read_session() as session:
                if with_total:
                    ids, total = self.repository.page_and_total(
                        session,
                        node,
                        aliases=aliases,
                        sort=sort,
                        seed=seed,
                        limit=limit,
                        offset=offset,
                        rank=True,
                    )
                else:
                    ids = self.repository.page(
                        session,
                        node,
                        aliases=aliases,
                        sort=sort,
                        seed=seed,
                        limit=limit,
                        offset=offset,
                        total=known_total,
                        rank=True,
                    )
                summaries = self.repository.summaries(session, ids)
        return SearchPage(
            query=query,
            ids=ids,
            summaries=summaries,
            total=total,
            limit=limit,
            offset=offset,
            sort=sort,
            seed=seed,
            aliases=aliases,
        )

    def _by_similarity(self, node: Node, aliases: Mapping[str, str]) -> list[int]:
        """Every match in its ranking term's order. The matches are a subset of that term's ids
        (a few hundred at most, or those over a threshold), so they are read whole and ordered
        here rather than by an SQL CASE over every id."""
        order = ranking(node)
        assert order is not None
        matched = {i for batch in self.id_batches(node, aliases, MAX_PAGE) for i in batch}
        return [image_id for image_id in order if image_id in matched]

    def ordered_ids(self, query: str, *, sort: str | None = None, seed: int = 0) -> list[int]:
        """Every matching id in `sort_for(sort)`'s order, ids only (a review queue is the whole
        result)."""
        node, aliases = self.parse(query)
        sort = sort_for(sort, node)
        if sort == SIMILARITY_SORT:
            return self._by_similarity(node, aliases)
        ids: list[int] = []
        while True:
            with self.project.database.read_session() as session:
                page = self.repository.page(
                    session, node, aliases=aliases, sort=sort, seed=seed, limit=MAX_PAGE, offset=len(ids)
                )
            ids.extend(page)
            if len(page) < MAX_PAGE:
                return ids

    def explain(self, query: str) -> QueryExplanation:
        """The parsed form and match count of a query; when nothing matches, a suggestion: close
        tag names for tags the project does not have, else the query without the part whose
        removal finds the most images."""
        node, aliases = self.parse(query)
        with self.project.database.read_session() as session:
            total = self.repository.count(session, node, aliases)
        suggestion = None
        if total == 0:
            suggestion = self._closer_tags(query, node) or self._without_one_part(query)
        return QueryExplanation(query, canonical(node), total, suggestion)

    def _closer_tags(self, query: str, node: Node) -> Suggestion | None:
        """The query with each tag the project lacks spelled as its closest known tag."""
        with self.project.database.read_session() as session:
            vocabulary = self.repository.vocabulary(session)
        folded = {tag.casefold(): tag for tag in vocabulary}
        edits: dict[tuple[int, int], tuple[str, str]] = {}
        for term in terms(node):
            if term.field not in {"tag", "rejected"} or term.wildcard or not isinstance(term.value, str):
                continue
            if term.value.casefold() in folded:
                continue
            close = difflib.get_close_matches(term.value.casefold(), list(folded), n=1, cutoff=0.75)
            span = word_span(query, term.position)
            if close and span is not None:
                edits[span] = (term.value, folded[close[0]])
        if not edits:
            return None
        text = query
        for (start, end), (_old, new) in sorted(edits.items(), reverse=True):
            typed = query[start:end]
            head = typed[: typed.index(":") + 1] if ":" in typed and not typed.startswith('"') else ""
            text = text[:start] + head + quote_if_needed(new, literal=True) + text[end:]
        total = self.count(text)
        if not total:
            return None
        pairs = ", ".join(f'"{old}" -> "{new}"' for old, new in edits.values())
        return Suggestion(text, f"no tag named so in this project ({pairs})", total)

    def _without_one_part(self, query: str) -> Suggestion | None:
        """The query without the AND-ed part whose removal finds the most images."""
        parts = and_parts(query)
        best: Suggestion | None = None
        for index, (start, end) in enumerate(parts[:MAX_DROP_TRIES]):
            text = " ".join(query[s:e] for i, (s, e) in enumerate(parts) if i != index)
            total = self.count(text)
            if total and (best is None or total > best.total):
                best = Suggestion(text, f"nothing matches all of it; without {query[start:end]}", total)
        return best

    def count(self, query: str) -> int:
        node, aliases = self.parse(query)
        with self.project.database.read_session() as session:
            return self.repository.count(session, node, aliases)

    def iter_ids(self, query: str, batch: int = 1000) -> Iterator[list[int]]:
        """Every matching id, ascending, in lists of at most `batch` (for export and bulk edits)."""
        node, aliases = self.parse(query)
        return self.id_batches(node, aliases, batch)

    def id_batches(
        self, node: Node, aliases: Mapping[str, str], batch: int, session: StoreSession | None = None
    ) -> Iterator[list[int]]:
        """Matching ids keyset-paged by id. Without `session`, one short read transaction per
        batch, so a long export never holds one snapshot open; with it (a bulk edit's write
        transaction), every batch is read there and sees the edit's own changes."""
        last = 0
        while True:
            if session is None:
                with self.project.database.read_session() as current:
                    ids = self.repository.ids_after(current, node, last, aliases=aliases, batch=batch)
            else:
                ids = self.repository.ids_after(session, node, last, aliases=aliases, batch=batch)
            if not ids:
                return
            yield ids
            last = ids[-1]

    def facets(self, query: str = "", top: int = 50) -> Facets:
        node, aliases = self.parse(query)
        with self.project.database.read_session() as session:
            return self.repository.facets(session, node, aliases=aliases, top=top)

    def summaries(self, ids: list[int]) -> list[ImageSummary]:
        with self.project.database.read_session() as session:
            return self.repository.summaries(session, ids)

    def tag_counts(self, ids: list[int]) -> dict[str, int]:
        """Each tag that counts on any of `ids`, with on how many of them (unknown ids: an error)."""
        self.require_ids(ids)
        with self.project.database.read_session() as session:
            return self.repository.tag_counts(session, ids)

    def details(self, ids: list[int]) -> list[dict[str, Any]]:
        """All stored annotations of the given images; unknown ids are an input error."""
        self.require_ids(ids)
        with self.project.database.read_session() as session:
            return self.repository.details(session, ids)

    def require_ids(self, ids: list[int], session: StoreSession | None = None) -> None:
        """Unknown image ids are an input error naming (the first ten of) them."""
        if session is None:
            with self.project.database.read_session() as current:
                existing = self.repository.existing_ids(current, ids)
        else:
            existing = self.repository.existing_ids(session, ids)
        missing = sorted(set(ids) - existing)
        if missing:
            shown = ", ".join(map(str, missing[:10]))
            raise ValidationError(f"no image with id {shown}{' ...' if len(missing) > 10 else ''}")

    def grid_flags(self, ids: list[int]) -> dict[int, GridFlags]:
        """Stored thumbnail path and badge flags (near-duplicate, failed, rejected-only) per image."""
        with self.project.database.read_session() as session:
            return grid_flags(session, ids)
