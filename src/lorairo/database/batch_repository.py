"""`batch_jobs` rows and the lookups a Batch API import needs (content hashes, existing results)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lorairo.database.schema import AnnotationFailure, BatchJob, Image, ModelAnnotation, utcnow
from lorairo.utils.chunks import chunked

_ID_CHUNK = 500


@dataclass(frozen=True)
class BatchJobRow:
    id: int
    provider: str
    model_name: str
    remote_id: str | None
    request_file: str
    result_file: str | None
    status: str
    request_count: int
    created_at: datetime
    imported_at: datetime | None

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat(timespec="seconds")
        data["imported_at"] = self.imported_at.isoformat(timespec="seconds") if self.imported_at else None
        return data


def _row(job: BatchJob) -> BatchJobRow:
    return BatchJobRow(
        job.id,
        job.provider,
        job.model_name,
        job.remote_id,
        job.request_file,
        job.result_file,
        job.status,
        job.request_count,
        job.created_at,
        job.imported_at,
    )


class BatchRepository:
    """Reads and writes inside the caller's session; the service decides the transaction."""

    @staticmethod
    def create_job(
        session: Session,
        *,
        provider: str,
        model_name: str,
        remote_id: str,
        request_file: str,
        request_count: int,
        status: str,
    ) -> BatchJobRow:
        job = BatchJob(
            provider=provider,
            model_name=model_name,
            remote_id=remote_id,
            request_file=request_file,
            request_count=request_count,
            status=status,
        )
        session.add(job)
        session.flush()
        return _row(job)

    @staticmethod
    def update_job(session: Session, job_id: int, **values: object) -> None:
        allowed = {"status", "result_file", "imported_at"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"cannot update batch job fields {sorted(unknown)}")
        session.execute(update(BatchJob).where(BatchJob.id == job_id).values(**values))

    @staticmethod
    def mark_imported(session: Session, job_id: int) -> None:
        BatchRepository.update_job(session, job_id, imported_at=utcnow())

    @staticmethod
    def get(session: Session, job_id: int) -> BatchJobRow | None:
        job = session.get(BatchJob, job_id)
        return _row(job) if job else None

    @staticmethod
    def by_result_file(session: Session, path: str) -> BatchJobRow | None:
        job = session.scalar(
            select(BatchJob).where(BatchJob.result_file == path).order_by(BatchJob.id.desc())
        )
        return _row(job) if job else None

    @staticmethod
    def list_jobs(session: Session, *, unfinished_only: bool = False, limit: int = 100) -> list[BatchJobRow]:
        """Newest first; `unfinished_only` keeps jobs whose results are not imported yet."""
        query = select(BatchJob).order_by(BatchJob.id.desc()).limit(limit)
        if unfinished_only:
            query = query.where(BatchJob.imported_at.is_(None))
        return [_row(job) for job in session.scalars(query)]

    @staticmethod
    def sha256_by_id(session: Session, image_ids: Sequence[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        unique = sorted(set(image_ids))
        for chunk in chunked(unique, _ID_CHUNK):
            found.update(session.execute(select(Image.id, Image.sha256).where(Image.id.in_(chunk))).all())
        return found

    @staticmethod
    def already_recorded(
        session: Session, image_ids: Sequence[int], model_id: int, model_name: str
    ) -> tuple[set[int], set[tuple[int, str]]]:
        """Images this model already has results for, and (image, reason) failures already recorded,
        so importing the same results twice writes nothing the second time."""
        annotated: set[int] = set()
        failed: set[tuple[int, str]] = set()
        unique = sorted(set(image_ids))
        for chunk in chunked(unique, _ID_CHUNK):
            annotated.update(
                session.scalars(
                    select(ModelAnnotation.image_id).where(
                        ModelAnnotation.model_id == model_id, ModelAnnotation.image_id.in_(chunk)
                    )
                )
            )
            failed.update(
                session.execute(
                    select(AnnotationFailure.image_id, AnnotationFailure.failure_reason).where(
                        AnnotationFailure.model_name == model_name, AnnotationFailure.image_id.in_(chunk)
                    )
                ).all()
            )
        return annotated, failed
