"""`annotation_runs` and `annotation_styles`: what each run cost and which caption style made each
result, plus the image facts a style's placeholders need (accepted tags, file stems)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from lorairo.database.effective import effective_tag, tags_in_order
from lorairo.database.schema import AnnotationRun, AnnotationStyle, Image, Tag, utcnow
from lorairo.utils.chunks import chunked

_ID_CHUNK = 500


@dataclass(frozen=True)
class RunUsage:
    images_annotated: int = 0
    failures: int = 0
    requests: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0


@dataclass(frozen=True)
class RunRow:
    id: int
    model_name: str
    provider: str
    style_name: str | None
    style_hash: str | None
    started_at: datetime
    finished_at: datetime | None
    usage: RunUsage

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat(timespec="seconds")
        data["finished_at"] = self.finished_at.isoformat(timespec="seconds") if self.finished_at else None
        return data


class RunRepository:
    """Reads and writes inside the caller's session; the service decides the transaction."""

    @staticmethod
    def start(session: Session, model_name: str, provider: str, style: tuple[str, str] | None) -> int:
        run = AnnotationRun(
            model_name=model_name,
            provider=provider,
            style_name=style[0] if style else None,
            style_hash=style[1] if style else None,
            **asdict(RunUsage()),
        )
        session.add(run)
        session.flush()
        return run.id

    @staticmethod
    def finish(session: Session, run_id: int, usage: RunUsage) -> None:
        session.execute(
            update(AnnotationRun)
            .where(AnnotationRun.id == run_id)
            .values(finished_at=utcnow(), **asdict(usage))
        )

    @staticmethod
    def runs(session: Session, model_name: str | None = None, limit: int = 50) -> list[RunRow]:
        query = select(AnnotationRun).order_by(AnnotationRun.id.desc()).limit(limit)
        if model_name:
            query = query.where(AnnotationRun.model_name == model_name)
        return [
            RunRow(
                run.id,
                run.model_name,
                run.provider,
                run.style_name,
                run.style_hash,
                run.started_at,
                run.finished_at,
                RunUsage(**{name: getattr(run, name) for name in RunUsage.__dataclass_fields__}),
            )
            for run in session.scalars(query)
        ]

    @staticmethod
    def record_styles(
        session: Session, image_ids: Sequence[int], model_id: int, run_id: int, style: tuple[str, str]
    ) -> None:
        """The style of each image's current result of this model (replacing an earlier one)."""
        unique = sorted(set(image_ids))
        for chunk in chunked(unique, _ID_CHUNK):
            session.execute(
                delete(AnnotationStyle).where(
                    AnnotationStyle.model_id == model_id, AnnotationStyle.image_id.in_(chunk)
                )
            )
            session.add_all(
                AnnotationStyle(
                    image_id=image_id,
                    model_id=model_id,
                    run_id=run_id,
                    style_name=style[0],
                    style_hash=style[1],
                )
                for image_id in chunk
            )

    @staticmethod
    def images_with_style(session: Session, style_name: str, style_hash: str | None = None) -> list[int]:
        """Images whose result (of any model) was made with that style (and exact wording)."""
        query = select(AnnotationStyle.image_id).where(AnnotationStyle.style_name == style_name)
        if style_hash:
            query = query.where(AnnotationStyle.style_hash == style_hash)
        return sorted(set(session.scalars(query)))

    @staticmethod
    def accepted_tags(session: Session, image_ids: Sequence[int]) -> dict[int, list[str]]:
        """Each image's tags that count (`effective_tag`), in their order (one query per chunk)."""
        found: dict[int, list[str]] = {}
        unique = sorted(set(image_ids))
        for chunk in chunked(unique, _ID_CHUNK):
            rows = session.execute(
                tags_in_order(Tag.image_id, Tag.tag).where(Tag.image_id.in_(chunk), effective_tag())
            )
            for image_id, tag in rows:
                tags = found.setdefault(image_id, [])
                if tag not in tags:
                    tags.append(tag)
        return found

    @staticmethod
    def image_names(session: Session, image_ids: Sequence[int]) -> dict[int, str]:
        """Original file names (the `{file_stem}` of a style), not the processed copy's."""
        found: dict[int, str] = {}
        unique = sorted(set(image_ids))
        for chunk in chunked(unique, _ID_CHUNK):
            found.update(session.execute(select(Image.id, Image.name).where(Image.id.in_(chunk))).all())
        return found

    @staticmethod
    def image_sizes(session: Session, image_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        found: dict[int, tuple[int, int]] = {}
        unique = sorted(set(image_ids))
        for chunk in chunked(unique, _ID_CHUNK):
            rows = session.execute(select(Image.id, Image.width, Image.height).where(Image.id.in_(chunk)))
            found.update((image_id, (width, height)) for image_id, width, height in rows)
        return found
