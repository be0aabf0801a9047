"""Stored image embeddings: one little-endian float16 vector per (image, model), and the facts the
similarity features need about images (names, sizes, scores, sharpness, export rejections).

Vectors are read as streams of numpy blocks keyed by row id, never as Python objects per vector,
so building an index over 100k images holds one block at a time. A model's `fingerprint` (its id
and newest row id, one index seek) changes whenever a vector is added or replaced, because row ids
are never reused; a deleted image's vector may linger in an index until then, so readers drop ids
whose image is gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from lorairo.database.effective import effective_score
from lorairo.database.schema import ExportRejection, Image, ImageEmbedding, ImageQuality, Model
from lorairo.utils.chunks import chunked

VECTOR_DTYPE = np.dtype("<f2")
BLOCK = 4096
_ID_CHUNK = 500

Fingerprint = tuple[int, int]


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, VECTOR_DTYPE).tobytes()


def from_blobs(blobs: Sequence[bytes], dimensions: int) -> np.ndarray:
    """Blobs of one model as an [n, dimensions] float16 array (one copy, no per-value objects)."""
    return np.frombuffer(b"".join(blobs), VECTOR_DTYPE).reshape(len(blobs), dimensions)


def save_embeddings(session: Session, model_id: int, rows: Sequence[tuple[int, np.ndarray]]) -> int:
    """Replace the (image, model) vectors of `rows` inside the caller's transaction."""
    if not rows:
        return 0
    for chunk in chunked([image_id for image_id, _ in rows], _ID_CHUNK):
        session.execute(
            delete(ImageEmbedding).where(
                ImageEmbedding.model_id == model_id, ImageEmbedding.image_id.in_(chunk)
            )
        )
    session.execute(
        insert(ImageEmbedding),
        [
            {"image_id": i, "model_id": model_id, "dimensions": int(v.shape[-1]), "vector": to_blob(v)}
            for i, v in rows
        ],
    )
    return len(rows)


@dataclass(frozen=True)
class EmbeddingModel:
    name: str
    images: int
    dimensions: int


@dataclass(frozen=True)
class ImageFacts:
    """What "keep best" and result lists need about an image."""

    id: int
    name: str
    width: int
    height: int
    score: float | None
    export_rejected: bool
    sharpness: float | None = None  # `image_quality.sharpness`; None when never measured
    thumbnail_path: str | None = None  # relative to the project root, as stored

    @property
    def pixels(self) -> int:
        return self.width * self.height


class EmbeddingRepository:
    """Reads inside the caller's session; the service decides the transactions."""

    @staticmethod
    def model_id(session: Session, name: str) -> int | None:
        return session.scalar(select(Model.id).where(Model.name == name))

    @staticmethod
    def models(session: Session) -> list[EmbeddingModel]:
        """Models with stored vectors, most images first."""
        rows = session.execute(
            select(Model.name, func.count(ImageEmbedding.id), func.max(ImageEmbedding.dimensions))
            .join(ImageEmbedding, ImageEmbedding.model_id == Model.id)
            .group_by(Model.name)
            .order_by(func.count(ImageEmbedding.id).desc(), Model.name)
        )
        return [EmbeddingModel(name, count, dims) for name, count, dims in rows]

    @staticmethod
    def fingerprint(session: Session, model_id: int) -> Fingerprint:
        newest = session.scalar(
            select(func.max(ImageEmbedding.id)).where(ImageEmbedding.model_id == model_id)
        )
        return model_id, int(newest or 0)

    @staticmethod
    def count(session: Session, model_id: int, up_to: int) -> int:
        """Vectors of the model with row ids up to `up_to` (a fingerprint's newest)."""
        counted = session.scalar(
            select(func.count(ImageEmbedding.id)).where(
                ImageEmbedding.model_id == model_id, ImageEmbedding.id <= up_to
            )
        )
        return int(counted or 0)

    @staticmethod
    def model_names(session: Session) -> list[str]:
        """Models with at least one stored vector (one index seek each, no counting)."""
        stored = select(ImageEmbedding.id).where(ImageEmbedding.model_id == Model.id).exists()
        return list(session.scalars(select(Model.name).where(stored).order_by(Model.name)))

    @staticmethod
    def block_after(
        session: Session, model_id: int, last: int, up_to: int, block: int = BLOCK
    ) -> tuple[np.ndarray, np.ndarray, int] | None:
        """The next block after row `last` up to row `up_to`: (image ids int64, vectors float16,
        its last row id), or None past the end. The caller reads one block per short read
        transaction (rows added meanwhile wait for the next fingerprint)."""
        rows = session.execute(
            select(
                ImageEmbedding.id,
                ImageEmbedding.image_id,
                ImageEmbedding.dimensions,
                ImageEmbedding.vector,
            )
            .where(
                ImageEmbedding.model_id == model_id,
                ImageEmbedding.id > last,
                ImageEmbedding.id <= up_to,
            )
            .order_by(ImageEmbedding.id)
            .limit(block)
        ).all()
        if not rows:
            return None
        dims = {row[2] for row in rows}
        if len(dims) != 1:
            raise ValueError(f"model {model_id} stores vectors of several lengths: {sorted(dims)}")
        return (
            np.array([row[1] for row in rows], np.int64),
            from_blobs([row[3] for row in rows], dims.pop()),
            rows[-1][0],
        )

    @staticmethod
    def vectors(session: Session, model_id: int, image_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """Stored vectors (float32) of the given images that have one."""
        found: dict[int, np.ndarray] = {}
        for chunk in chunked(list(image_ids), _ID_CHUNK):
            rows = session.execute(
                select(ImageEmbedding.image_id, ImageEmbedding.vector).where(
                    ImageEmbedding.model_id == model_id, ImageEmbedding.image_id.in_(chunk)
                )
            )
            for image_id, blob in rows:
                found[image_id] = np.frombuffer(blob, VECTOR_DTYPE).astype(np.float32)
        return found

    @staticmethod
    def image_exists(session: Session, image_id: int) -> bool:
        return session.get(Image, image_id) is not None

    @staticmethod
    def facts(session: Session, image_ids: Sequence[int], score_kind: str) -> dict[int, ImageFacts]:
        """Name, size, effective score of `score_kind`, sharpness, thumbnail and export rejection
        of each image."""
        out: dict[int, ImageFacts] = {}
        for chunk in chunked(list(image_ids), _ID_CHUNK):
            rejected = select(ExportRejection.id).where(ExportRejection.image_id == Image.id).exists()
            rows = session.execute(
                select(
                    Image.id,
                    Image.name,
                    Image.width,
                    Image.height,
                    effective_score(score_kind),
                    rejected,
                    ImageQuality.sharpness,
                    Image.thumbnail_path,
                )
                .outerjoin(ImageQuality, ImageQuality.image_id == Image.id)
                .where(Image.id.in_(chunk))
            )
            for image_id, name, width, height, score, is_rejected, sharpness, thumbnail in rows:
                out[image_id] = ImageFacts(
                    image_id, name, width, height, score, bool(is_rejected), sharpness, thumbnail
                )
        return out
