"""Runs compiled search queries: counts, pages, streamed ids, summaries, facets, full details.

Pages and summaries touch only the rows of one page; `iter_ids` walks by keyset (id > last) in
short read transactions so an export of 100k images never holds a snapshot or a list of rows.
Wildcard tags are expanded (`context`) inside the same read transaction as the query they serve.

A page picks its plan from the match count: when matches are dense, walking images in the sort
index and testing each stops after about `(offset + limit) * images / matches` tests; when they
are sparse, building the sorted id stream (cost ~ matches) and sorting it is cheaper.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, cast, distinct, func, select
from sqlalchemy.orm import Session

from lorairo.database.effective import (
    DEFAULT_SCORE_KIND,
    effective_caption_row,
    effective_rating_row,
    effective_score_row,
    effective_scores,
    effective_tag,
    tags_in_order,
)
from lorairo.database.id_streams import id_set
from lorairo.database.query import Node
from lorairo.database.query_fields import SqlContext
from lorairo.database.schema import (
    AnnotationFailure,
    Caption,
    Image,
    ImageEmbedding,
    Model,
    Rating,
    Score,
    Tag,
    TagVocabulary,
)
from lorairo.database.search_sql import (
    INDEXED_SORTS,
    compile_condition,
    count_matches,
    expansions,
    id_stream,
    select_ids,
    without_loose,
)
from lorairo.utils.chunks import chunked

SUMMARY_TAGS = 12
_CHUNK = 500


@dataclass(frozen=True)
class ImageSummary:
    """What a result list shows per image: enough for a grid tooltip or a CLI row, and where its
    files are (the near-duplicate listing prints the original path)."""

    id: int
    name: str
    width: int
    height: int
    format: str
    added: datetime
    reviewed: bool
    tags: list[str]
    caption: str | None
    score: float | None
    rating: str | None
    file_path: str
    stored_path: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["added"] = self.added.isoformat()
        return data


@dataclass(frozen=True)
class TagCount:
    tag: str
    category: str
    images: int


@dataclass
class Facets:
    """Tag frequency (top N per category), score histogram (per kind) and rating counts."""

    tags: dict[str, list[TagCount]] = field(default_factory=dict)
    score_histogram: dict[str, dict[int, int]] = field(default_factory=dict)
    ratings: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tags": {cat: [asdict(t) for t in counts] for cat, counts in self.tags.items()},
            "score_histogram": {
                kind: {str(k): v for k, v in buckets.items()}
                for kind, buckets in self.score_histogram.items()
            },
            "ratings": self.ratings,
        }


def _row_dict(row: Any, columns: tuple[str, ...]) -> dict[str, Any]:
    data = {}
    for name in columns:
        value = getattr(row, name)
        data[name] = value.isoformat() if isinstance(value, datetime) else value
    return data


class SearchRepository:
    """`score_kind` is the kind `score` sorts on and summaries show (the default kind). Every
    method reads inside the caller's session: one read transaction is one snapshot."""

    def __init__(self, score_kind: str = DEFAULT_SCORE_KIND) -> None:
        self.score_kind = score_kind

    @staticmethod
    def context(session: Session, node: Node, aliases: Mapping[str, str] | None = None) -> SqlContext:
        """What compiling `node` needs, read in `session`: each term's vocabulary expansion (the
        exact tags a wildcard matches right now) and the alias map."""
        expanded = {term: list(session.scalars(query)) for term, query in expansions(node).items()}
        dialect = session.get_bind().dialect.name
        return SqlContext(aliases=aliases or {}, expanded=expanded, dialect=dialect)

    @staticmethod
    def _count(session: Session, node: Node, ctx: SqlContext) -> int:
        return int(session.scalar(count_matches(node, ctx)) or 0)

    def count(self, session: Session, node: Node, aliases: Mapping[str, str] | None = None) -> int:
        return self._count(session, node, self.context(session, node, aliases))

    def page(
        self,
        session: Session,
        node: Node,
        *,
        aliases: Mapping[str, str] | None = None,
        sort: str = "added",
        seed: int = 0,
        limit: int = 100,
        offset: int = 0,
        walk: bool | None = None,
        total: int | None = None,
        rank: bool = False,
    ) -> list[int]:
        """One page of ids; `walk` forces a plan (tests compare both), else the count picks it:
        `total` when the caller knows it (a browsing grid, not recounting per page), else counted.
        A known total only picks the plan; zero is recounted, as it would return no rows.
        `rank`: images found only through a loose term (a bare word inside a longer tag) come
        after the others."""
        ctx = self.context(session, node, aliases)
        known = total or None
        return self._page(session, node, ctx, sort, seed, limit, offset, known, walk, rank)[0]

    def page_and_total(
        self,
        session: Session,
        node: Node,
        *,
        aliases: Mapping[str, str] | None = None,
        sort: str = "added",
        seed: int = 0,
        limit: int = 100,
        offset: int = 0,
        rank: bool = False,
    ) -> tuple[list[int], int]:
        """One page and the full match count, from one snapshot and one wildcard expansion."""
        ctx = self.context(session, node, aliases)
        total = self._count(session, node, ctx)
        return self._page(session, node, ctx, sort, seed, limit, offset, total, None, rank)

    def _page(
        self,
        session: Session,
        node: Node,
        ctx: SqlContext,
        sort: str,
        seed: int,
        limit: int,
        offset: int,
        total: int | None,
        walk: bool | None,
        rank: bool = False,
    ) -> tuple[list[int], int]:
        first = without_loose(node, ctx) if rank else None
        if first is not None:
            walk = False
        if walk is None:
            if total is None:
                total = self._count(session, node, ctx)
            if total == 0:
                return [], 0
            walk = False
            if sort in INDEXED_SORTS:
                # The highest id bounds the image count: one index seek, where count(*) reads
                # every row on PostgreSQL (5 ms at 100k). Gaps only make the walk rarer.
                images = int(session.scalar(select(func.max(Image.id))) or 0)
                walk = (offset + limit) * images <= total * total
        statement = select_ids(
            node,
            ctx=ctx,
            sort=sort,
            seed=seed,
            walk=walk,
            score_kind=self.score_kind,
            first=first,
        )
        ids = list(session.scalars(statement.limit(limit).offset(offset)))
        return ids, -1 if total is None else total

    def ids_after(
        self,
        session: Session,
        node: Node,
        last: int,
        *,
        aliases: Mapping[str, str] | None = None,
        batch: int = 1000,
    ) -> list[int]:
        """The next `batch` matching ids after `last`, ascending (keyset paging by id). The caller
        decides the transactions: one short read per batch, or every batch inside one write
        transaction, so an edit that writes as it goes sees its own changes."""
        condition = compile_condition(node, self.context(session, node, aliases))
        statement = select(Image.id).where(condition, Image.id > last).order_by(Image.id).limit(batch)
        return list(session.scalars(statement))

    def vocabulary(self, session: Session) -> list[str]:
        """Every distinct tag (ignoring case) in the project, for "did you mean" suggestions."""
        return list(session.scalars(select(TagVocabulary.tag)))

    def existing_ids(self, session: Session, ids: list[int]) -> set[int]:
        """The ids among `ids` that name an image."""
        found: set[int] = set()
        for chunk in chunked(ids, _CHUNK):
            found.update(session.scalars(select(Image.id).where(Image.id.in_(chunk))))
        return found

    def summaries(self, session: Session, ids: list[int]) -> list[ImageSummary]:
        """Summaries in the order of `ids` (one page; a few queries, not one per image)."""
        if not ids:
            return []
        # Columns, not ORM entities: identity-map bookkeeping was a third of a page's cost.
        columns = (
            Image.id,
            Image.name,
            Image.width,
            Image.height,
            Image.format,
            Image.created_at,
            Image.file_path,
        )
        # The one effective caption, rating and score ride on the image rows as correlated
        # lookups: one statement instead of four, which on a server is three round trips a page.
        effective = (
            self._one(Caption.caption, Caption.image_id, effective_caption_row()).label("caption"),
            self._one(Rating.rating, Rating.image_id, effective_rating_row()).label("rating"),
            self._one(Score.score, Score.image_id, *effective_score_row(self.score_kind)).label("score"),
        )
        images = {
            row.id: row
            for row in session.execute(
                select(*columns, Image.stored_path, Image.reviewed_at, *effective).where(Image.id.in_(ids))
            )
        }
        tags: dict[int, list[str]] = defaultdict(list)
        tag_rows = session.execute(
            tags_in_order(Tag.image_id, Tag.tag).where(Tag.image_id.in_(ids), effective_tag())
        )
        for image_id, tag in tag_rows:
            if tag not in tags[image_id] and len(tags[image_id]) < SUMMARY_TAGS:
                tags[image_id].append(tag)
        return [
            ImageSummary(
                id=image.id,
                name=image.name,
                width=image.width,
                height=image.height,
                format=image.format,
                added=image.created_at,
                reviewed=image.reviewed_at is not None,
                tags=tags.get(image.id, []),
                caption=image.caption,
                score=image.score,
                rating=image.rating,
                file_path=image.file_path,
                stored_path=image.stored_path,
            )
            for image in (images[i] for i in ids if i in images)
        ]

    @staticmethod
    def _one(value: Any, image_id: Any, *effective: Any) -> Any:
        """An image's one effective value (the conditions come from `lorairo.database.effective`)."""
        return (
            select(value).where(image_id == Image.id, *effective).limit(1).correlate(Image).scalar_subquery()
        )

    def details(self, session: Session, ids: list[int]) -> list[dict[str, Any]]:
        """Everything stored about each image: all annotation rows with model and state, and the
        models that stored an embedding of it."""
        out = []
        models = {model_id: name for model_id, name in session.execute(select(Model.id, Model.name))}
        for image in session.scalars(select(Image).where(Image.id.in_(ids)).order_by(Image.id)):
            record = _row_dict(
                image,
                (
                    "id",
                    "name",
                    "file_path",
                    "stored_path",
                    "width",
                    "height",
                    "format",
                    "sha256",
                    "reviewed_at",
                    "created_at",
                ),
            )
            sections: tuple[tuple[str, Any, tuple[str, ...]], ...] = (
                (
                    "tags",
                    Tag,
                    (
                        "id",
                        "tag",
                        "category",
                        "source",
                        "confidence",
                        "is_accepted",
                        "rejected_at",
                        "removed_at",
                        "position",
                        "is_edited_manually",
                    ),
                ),
                ("captions", Caption, ("id", "caption", "source", "is_edited_manually")),
                (
                    "scores",
                    Score,
                    ("id", "kind", "score", "scale_max", "source", "is_edited_manually", "is_effective"),
                ),
                (
                    "ratings",
                    Rating,
                    ("id", "rating", "confidence", "source", "is_edited_manually", "is_effective"),
                ),
            )
            for key, model, columns in sections:
                if model is Tag:
                    statement = tags_in_order(Tag).where(Tag.image_id == image.id)
                else:
                    statement = select(model).where(model.image_id == image.id).order_by(model.id)
                record[key] = [
                    {**_row_dict(row, columns), "model": models.get(row.model_id)}
                    for row in session.scalars(statement)
                ]
            effective = session.scalar(
                select(Caption.id).where(Caption.image_id == image.id, effective_caption_row())
            )
            for caption in record["captions"]:
                caption["is_effective"] = caption["id"] == effective
            failures = session.scalars(
                select(AnnotationFailure).where(AnnotationFailure.image_id == image.id)
            )
            record["failures"] = [
                _row_dict(row, ("model_name", "failure_reason", "error_message", "failed_at"))
                for row in failures
            ]
            record["embeddings"] = sorted(  # the models "Find similar" can search with
                models[model_id]
                for model_id in session.scalars(
                    select(ImageEmbedding.model_id).where(ImageEmbedding.image_id == image.id)
                )
            )
            out.append(record)
        return out

    def tag_counts(self, session: Session, ids: list[int]) -> dict[str, int]:
        """How many of `ids` carry each tag that counts (`effective_tag`): a multi-selection's
        shared tag list. A tag spelled in several cases on one image counts that image once."""
        counts: dict[str, int] = defaultdict(int)
        spelled: dict[str, str] = {}
        for chunk in chunked(sorted(set(ids)), _CHUNK):
            pairs = session.execute(
                select(Tag.image_id, Tag.tag)
                .where(Tag.image_id.in_(chunk), effective_tag())
                .distinct()
                .order_by(Tag.image_id, Tag.tag)
            )
            seen: set[tuple[int, str]] = set()
            for image_id, tag in pairs:
                key = tag.casefold()
                if (image_id, key) not in seen:
                    seen.add((image_id, key))
                    counts[spelled.setdefault(key, tag)] += 1
        return dict(counts)

    def facets(
        self, session: Session, node: Node, *, aliases: Mapping[str, str] | None = None, top: int = 50
    ) -> Facets:
        """Facets over the images a query matches (the whole project for an empty query)."""
        facets = Facets()
        ctx = self.context(session, node, aliases)
        matched = id_set(id_stream(node, ctx), ctx.dialect)
        counted = (
            select(
                Tag.category.label("category"),
                Tag.tag.label("tag"),
                func.count(distinct(Tag.image_id)).label("images"),
            )
            .where(effective_tag(), Tag.image_id.in_(matched))
            .group_by(Tag.category, Tag.tag)
            .subquery()
        )
        ranked = select(
            counted.c.category,
            counted.c.tag,
            counted.c.images,
            func.row_number()
            .over(
                partition_by=counted.c.category,
                order_by=(counted.c.images.desc(), counted.c.tag),
            )
            .label("rank"),
        ).subquery()
        for category, tag, images, _rank in session.execute(
            select(ranked).where(ranked.c.rank <= top).order_by(ranked.c.category, ranked.c.rank)
        ):
            facets.tags.setdefault(category, []).append(TagCount(tag, category, images))
        facets.score_histogram = self._score_histogram(session, matched)
        facets.ratings = self._rating_counts(session, matched)
        return facets

    @staticmethod
    def _score_histogram(session: Any, matched: Any) -> dict[str, dict[int, int]]:
        effective = effective_scores()
        bucket = cast(func.floor(Score.score), Integer)
        histogram: dict[str, dict[int, int]] = {}
        rows = session.execute(
            select(Score.kind, bucket, func.count())
            .where(Score.image_id.in_(matched), effective)
            .group_by(Score.kind, bucket)
            .order_by(Score.kind, bucket)
        )
        for kind, value, count in rows:
            histogram.setdefault(kind, {})[int(value)] = count
        return histogram

    @staticmethod
    def _rating_counts(session: Any, matched: Any) -> dict[str, int]:
        rows = session.execute(
            select(Rating.rating, func.count(distinct(Rating.image_id)))
            .where(Rating.image_id.in_(matched), effective_rating_row())
            .group_by(Rating.rating)
            .order_by(Rating.rating)
        )
        return {rating: count for rating, count in rows}
