"""All SQL for image registration: batch inserts, identity lookups, pHash streaming, similarity
links, rejections and processed copies.

Methods that take a `Session` run inside the caller's write transaction (one per batch), so a
batch's images, files' rows, links and sidecar annotations commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.orm import Session

from lorairo.database.change_feed import bump as bump_changes
from lorairo.database.dialect import upsert
from lorairo.database.failures import RegistrationFailureRow
from lorairo.database.schema import (
    SOURCE_EXISTING,
    Caption,
    Image,
    ImageQuality,
    ImageSimilarity,
    ProcessedImage,
    RegistrationFailure,
    Tag,
    utcnow,
)
from lorairo.database.search_repository import ImageSummary, SearchRepository
from lorairo.utils.chunks import chunked

_CHUNK = 500  # bound parameters per IN (...), well under SQLite's limit
_STREAM = 5000


@dataclass(frozen=True)
class ProcessingTask:
    image_id: int
    sha256: str
    stored_path: str
    format: str


class ImageRepository:
    """Stateless: every method works inside the caller's session and never commits."""

    # -- identity ------------------------------------------------------------------------------

    def sha256_registered(self, session: Session, sha256: str) -> bool:
        return bool(session.scalar(select(exists().where(Image.sha256 == sha256))))

    def find_by_sha(self, session: Session, shas: Iterable[str]) -> dict[str, tuple[int, str]]:
        """sha256 -> (image id, original file path) for those already registered."""
        found: dict[str, tuple[int, str]] = {}
        for chunk in chunked(sorted(set(shas)), _CHUNK):
            rows = session.execute(
                select(Image.sha256, Image.id, Image.file_path).where(Image.sha256.in_(chunk))
            )
            found.update({sha: (image_id, path) for sha, image_id, path in rows})
        return found

    def registered_shas(self, session: Session, shas: Iterable[str]) -> set[str]:
        return set(self.find_by_sha(session, shas))

    def iter_phashes(self, session: Session) -> Iterator[tuple[int, int]]:
        """Every (id, phash), streamed so a large project is never materialised as ORM rows
        (consume it inside `session`'s transaction)."""
        result = session.execute(select(Image.id, Image.phash).execution_options(yield_per=_STREAM))
        for row in result:
            yield row[0], row[1]

    def file_paths(self, session: Session, ids: Iterable[int]) -> dict[int, str]:
        paths: dict[int, str] = {}
        for chunk in chunked(sorted(set(ids)), _CHUNK):
            rows = session.execute(select(Image.id, Image.file_path).where(Image.id.in_(chunk)))
            paths.update({image_id: path for image_id, path in rows})
        return paths

    # -- inserts -------------------------------------------------------------------------------

    def insert_images(self, session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert in one statement; ids come back in the order of `rows`."""
        if not rows:
            return []
        now = utcnow()
        values = [{"created_at": now, "updated_at": now, **row} for row in rows]
        result = session.execute(insert(Image).returning(Image.id, sort_by_parameter_order=True), values)
        ids = [row[0] for row in result]
        bump_changes(session)  # new images: open grids elsewhere append them
        return ids

    def upsert_processed(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        statement = upsert(session, ProcessedImage).values([{"created_at": utcnow(), **row} for row in rows])
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[ProcessedImage.image_id, ProcessedImage.resolution],
                set_={
                    "path": statement.excluded.path,
                    "width": statement.excluded.width,
                    "height": statement.excluded.height,
                    "created_at": statement.excluded.created_at,
                },
            )
        )

    def insert_similarities(self, session: Session, links: Sequence[tuple[int, int, int]]) -> None:
        """(image_id, similar_to_id, distance) links; an existing pair is left as it is."""
        if not links:
            return
        statement = upsert(session, ImageSimilarity).values(
            [{"image_id": a, "similar_to_id": b, "distance": d, "created_at": utcnow()} for a, b, d in links]
        )
        session.execute(statement.on_conflict_do_nothing())

    # -- rejections ----------------------------------------------------------------------------

    def replace_failures(
        self, session: Session, seen_paths: Sequence[str], failures: Sequence[tuple[str, str, str]]
    ) -> None:
        """Forget earlier rejections of every path seen in this batch, then record today's
        (path, reason, message), so a fixed file stops being listed and a re-run adds no copies."""
        for chunk in chunked(seen_paths, _CHUNK):
            session.execute(delete(RegistrationFailure).where(RegistrationFailure.file_path.in_(chunk)))
        if failures:
            now = utcnow()
            session.execute(
                insert(RegistrationFailure),
                [
                    {"file_path": path, "reason": reason, "message": message, "failed_at": now}
                    for path, reason, message in failures
                ],
            )

    def standing_rejections(self, session: Session, retried_reason: str) -> dict[str, datetime]:
        """file path -> when it was rejected, for every rejection except `retried_reason`: what a
        re-run leaves alone unless the file changed since."""
        rows = session.execute(
            select(RegistrationFailure.file_path, RegistrationFailure.failed_at).where(
                RegistrationFailure.reason != retried_reason
            )
        )
        return {path: failed_at for path, failed_at in rows}

    def list_failures(self, session: Session, limit: int, offset: int = 0) -> list[RegistrationFailureRow]:
        rows = session.execute(
            select(
                RegistrationFailure.file_path,
                RegistrationFailure.reason,
                RegistrationFailure.message,
                RegistrationFailure.failed_at,
            )
            .order_by(RegistrationFailure.failed_at.desc(), RegistrationFailure.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [
            RegistrationFailureRow(file_path=path, reason=reason, message=message, failed_at=failed_at)
            for path, reason, message, failed_at in rows
        ]

    def count_failures(self, session: Session) -> int:
        return session.scalar(select(func.count()).select_from(RegistrationFailure)) or 0

    # -- sidecar annotations -------------------------------------------------------------------

    def existing_sidecar_tags(self, session: Session, image_id: int) -> set[str]:
        rows = session.scalars(select(Tag.tag).where(Tag.image_id == image_id, Tag.source == SOURCE_EXISTING))
        return {tag.casefold() for tag in rows}

    def insert_sidecar_tags(
        self, session: Session, image_id: int, rows: Sequence[tuple[str, str]], first_position: int
    ) -> None:
        """(tag, raw_tag) pairs from a sidecar: source `existing`, no model, no confidence."""
        now = utcnow()
        session.execute(
            insert(Tag),
            [
                {
                    "image_id": image_id,
                    "model_id": None,
                    "source": SOURCE_EXISTING,
                    "tag": tag,
                    "raw_tag": raw,
                    "category": "general",
                    "confidence": None,
                    "is_accepted": True,
                    "position": first_position + index,
                    "is_edited_manually": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for index, (tag, raw) in enumerate(rows)
            ],
        )

    def has_sidecar_caption(self, session: Session, image_id: int, caption: str) -> bool:
        return bool(
            session.scalar(
                select(
                    exists().where(
                        Caption.image_id == image_id,
                        Caption.source == SOURCE_EXISTING,
                        Caption.caption == caption,
                    )
                )
            )
        )

    def insert_sidecar_caption(self, session: Session, image_id: int, caption: str) -> None:
        now = utcnow()
        session.execute(
            insert(Caption),
            [
                {
                    "image_id": image_id,
                    "model_id": None,
                    "source": SOURCE_EXISTING,
                    "caption": caption,
                    "is_edited_manually": False,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )

    # -- duplicate groups ----------------------------------------------------------------------

    def iter_similarities(self, session: Session) -> Iterator[tuple[int, int, int]]:
        """Every near-duplicate link as (image_id, similar_to_id, distance), streamed."""
        result = session.execute(
            select(
                ImageSimilarity.image_id, ImageSimilarity.similar_to_id, ImageSimilarity.distance
            ).execution_options(yield_per=_STREAM)
        )
        for row in result:
            yield row[0], row[1], row[2]

    def image_summaries(self, session: Session, ids: Iterable[int]) -> dict[int, ImageSummary]:
        """Id -> the one summary type search shows, for any number of ids."""
        search = SearchRepository()
        found: dict[int, ImageSummary] = {}
        for chunk in chunked(sorted(set(ids)), _CHUNK):
            found.update((summary.id, summary) for summary in search.summaries(session, chunk))
        return found

    # -- processed copies ----------------------------------------------------------------------

    def _needs_processing(self, resolution: int, force: bool) -> Any:
        if force:
            return Image.id.is_not(None)
        return ~exists().where(ProcessedImage.image_id == Image.id, ProcessedImage.resolution == resolution)

    def count_for_processing(self, session: Session, resolution: int, *, force: bool) -> int:
        return (
            session.scalar(
                select(func.count()).select_from(Image).where(self._needs_processing(resolution, force))
            )
            or 0
        )

    def for_processing_after(
        self, session: Session, after: int, resolution: int, *, force: bool, page_size: int
    ) -> list[ProcessingTask]:
        """The next page after image id `after` of images lacking a copy at `resolution` (all
        with `force`), keyset-paged by id so rows written meanwhile never shift a page."""
        rows = session.execute(
            select(Image.id, Image.sha256, Image.stored_path, Image.format)
            .where(Image.id > after, self._needs_processing(resolution, force))
            .order_by(Image.id)
            .limit(page_size)
        ).all()
        return [ProcessingTask(*row) for row in rows]

    # -- quality measures ----------------------------------------------------------------------

    def upsert_quality(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        """One `image_quality` row per image (keys: `image_id`, `version` and the measures),
        replacing an older one."""
        if not rows:
            return
        statement = upsert(session, ImageQuality).values([{"computed_at": utcnow(), **row} for row in rows])
        columns = [column.name for column in ImageQuality.__table__.columns if column.name != "image_id"]
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[ImageQuality.image_id],
                set_={name: statement.excluded[name] for name in columns},
            )
        )
        bump_changes(session)  # the grid's quality badges

    def _needs_quality(self, version: int) -> Any:
        return ~exists().where(ImageQuality.image_id == Image.id, ImageQuality.version >= version)

    def mark_quality_stale(self, session: Session) -> int:
        """Make every stored measure due for recomputing (values stay searchable until replaced),
        so a forced recompute resumes like any other backfill after an interruption."""
        result: Any = session.execute(update(ImageQuality).values(version=0))
        return int(result.rowcount or 0)

    def count_needing_quality(self, session: Session, version: int) -> int:
        return (
            session.scalar(select(func.count()).select_from(Image).where(self._needs_quality(version))) or 0
        )

    def needing_quality_after(
        self, session: Session, after: int, version: int, *, page_size: int
    ) -> list[ProcessingTask]:
        """The next page after image id `after` of images without measures of `version` or
        newer, keyset-paged by id."""
        rows = session.execute(
            select(Image.id, Image.sha256, Image.stored_path, Image.format)
            .where(Image.id > after, self._needs_quality(version))
            .order_by(Image.id)
            .limit(page_size)
        ).all()
        return [ProcessingTask(*row) for row in rows]

    def count_images(self, session: Session) -> int:
        return session.scalar(select(func.count()).select_from(Image)) or 0
