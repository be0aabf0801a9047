"""The project database schema (SQLAlchemy 2 typed declarative models).

Every annotation row names its source: a model (`model_id` set), a `manual` edit, or an `existing`
sidecar file. Model output is never overwritten by manual edits; both are kept and the reader
decides precedence (manual wins at export). Changes to this file need an Alembic revision in
`lorairo/database/migrations/versions`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite's NOCASE column; PostgreSQL has no such collation and folds with `lorairo_fold()` indexes
# instead (migrations 0005 and 0007, `database/dialect.py`).
NOCASE_TEXT = Text(collation="NOCASE").with_variant(Text(), "postgresql")

SOURCE_MODEL = "model"
SOURCE_MANUAL = "manual"
SOURCE_EXISTING = "existing"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Image(Base):
    """An original image copied into the project; identity is its SHA-256."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_path: Mapped[str] = mapped_column(Text, index=True)
    stored_path: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text, index=True)
    file_size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer, index=True)
    height: Mapped[int] = mapped_column(Integer, index=True)
    format: Mapped[str] = mapped_column(String(16), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    has_alpha: Mapped[bool] = mapped_column(Boolean, default=False)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    phash: Mapped[int] = mapped_column(BigInteger, index=True)
    thumbnail_path: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    processed: Mapped[list[ProcessedImage]] = relationship(
        back_populates="image", cascade="all, delete-orphan"
    )


class ProcessedImage(Base):
    """A training-resolution copy (long side = resolution, sides multiples of 64)."""

    __tablename__ = "processed_images"
    __table_args__ = (UniqueConstraint("image_id", "resolution"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    resolution: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    image: Mapped[Image] = relationship(back_populates="processed")


class ImageSimilarity(Base):
    """A near-duplicate link: `image_id` was registered after, and resembles, `similar_to_id`."""

    __tablename__ = "image_similarities"
    __table_args__ = (UniqueConstraint("image_id", "similar_to_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    similar_to_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    distance: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RegistrationFailure(Base):
    """A file registration rejected, with a human reason, so the user can see what was left out."""

    __tablename__ = "registration_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_path: Mapped[str] = mapped_column(Text, index=True)
    reason: Mapped[str] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Model(Base):
    """An annotator (local ONNX model or vision LLM) that produced rows."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    provider: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ModelAnnotation(Base):
    """Marks that a model has processed an image, even when it produced no rows above the floor."""

    __tablename__ = "model_annotations"
    __table_args__ = (
        UniqueConstraint("model_id", "image_id"),
        Index("ix_model_annotations_image_model", "image_id", "model_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    annotated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Tag(Base):
    """One tag on one image from one source; `tag` is normalised, `raw_tag` what the source said."""

    __tablename__ = "tags"
    __table_args__ = (
        Index("ix_tags_tag_image", "tag", "image_id"),
        Index("ix_tags_image_model", "image_id", "model_id"),
        Index("ix_tags_model_image", "model_id", "image_id"),
        # Search (migrations 0003, 0007): case-insensitive, covering the accepted/rejected filter;
        # on PostgreSQL it also INCLUDEs tag (0013) so lookups are index-only scans.
        Index(
            "ix_tags_search",
            text("tag COLLATE NOCASE"),
            "is_accepted",
            "rejected_at",
            "removed_at",
            "image_id",
        ),
        # Migration 0010: a model writes each tag once per image, even when two workers finish
        # the same batch (the results of a batch finished twice are stored once).
        Index(
            "ux_tags_model_image_tag",
            "model_id",
            "image_id",
            "tag",
            unique=True,
            sqlite_where=text("source = 'model'"),
            postgresql_where=text("source = 'model'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16), default=SOURCE_MODEL)
    tag: Mapped[str] = mapped_column(Text)
    raw_tag: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(16), default="general")
    confidence: Mapped[float | None] = mapped_column(Float)
    is_accepted: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_edited_manually: Mapped[bool] = mapped_column(Boolean, default=False)
    # Derived (migration 0007 triggers) from the image's `TagDecision` for this tag. Read, never write.
    rejected_at: Mapped[datetime | None] = mapped_column(DateTime)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class TagDecision(Base):
    """What a person decided about one tag on one image, apart from any model's rows (migration 0007).

    `rejected_at` (rejected: kept but excluded), `removed_at` (a model's tag removed) and `position`
    (manual order, None when never ordered by hand) outlive every re-run, replace and model deletion.
    """

    __tablename__ = "tag_decisions"
    __table_args__ = (UniqueConstraint("image_id", "tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(NOCASE_TEXT)
    rejected_at: Mapped[datetime | None] = mapped_column(DateTime)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime)
    position: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class TagVocabulary(Base):
    """Each distinct tag (ignoring case) once; triggers on `tags` maintain it (migration 0005).

    Lets a wildcard be expanded to exact tags with LIKE over thousands of rows, not millions.
    """

    __tablename__ = "tag_vocabulary"
    __table_args__ = ({"sqlite_with_rowid": False},)

    tag: Mapped[str] = mapped_column(NOCASE_TEXT, primary_key=True)


class Caption(Base):
    __tablename__ = "captions"
    __table_args__ = (Index("ix_captions_image_model", "image_id", "model_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16), default=SOURCE_MODEL)
    caption: Mapped[str] = mapped_column(Text)
    is_edited_manually: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Score(Base):
    """A score on a stated scale (`kind` e.g. aesthetic, `scale_max` e.g. 10)."""

    __tablename__ = "scores"
    __table_args__ = (
        Index("ix_scores_image_model", "image_id", "model_id"),
        Index("ix_scores_kind_score", "kind", "score"),
        Index("ix_scores_effective", "is_effective", "image_id", "kind", "score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16), default=SOURCE_MODEL)
    kind: Mapped[str] = mapped_column(String(32), default="aesthetic")
    score: Mapped[float] = mapped_column(Float)
    scale_max: Mapped[float] = mapped_column(Float, default=10.0)
    is_edited_manually: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Derived (migrations 0004, 0006 triggers): true on exactly one row per (image, kind), the manual
    # one if any, else the newest model row. Read, never write.
    is_effective: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Rating(Base):
    """Content rating: general, sensitive, questionable or explicit."""

    __tablename__ = "ratings"
    __table_args__ = (
        Index("ix_ratings_image_model", "image_id", "model_id"),
        Index("ix_ratings_rating_image", "rating", "image_id"),
        Index("ix_ratings_effective", "is_effective", "image_id", "rating"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16), default=SOURCE_MODEL)
    rating: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Float)
    is_edited_manually: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Derived (migrations 0004, 0006 triggers): true on exactly one row per image, the manual one if
    # any, else the newest model row. Read, never write.
    is_effective: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class AnnotationFailure(Base):
    """A failed annotation attempt; policy refusals are flagged so they are not retried blindly."""

    __tablename__ = "annotation_failures"
    __table_args__ = (Index("ix_annotation_failures_image_model", "image_id", "model_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    model_name: Mapped[str] = mapped_column(String(200), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    failure_reason: Mapped[str] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    is_policy_violation: Mapped[bool] = mapped_column(Boolean, default=False)


class BatchJob(Base):
    """An OpenAI Batch API job submitted for a set of images."""

    __tablename__ = "batch_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    model_name: Mapped[str] = mapped_column(String(200))
    remote_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_file: Mapped[str] = mapped_column(Text)
    result_file: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), default="created")
    request_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    imported_at: Mapped[datetime | None] = mapped_column(DateTime)


class EditLog(Base):
    """One bulk edit; its `EditChange` rows hold the before/after state needed to undo it exactly."""

    __tablename__ = "edit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    operation: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    query: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[str | None] = mapped_column(Text)
    affected_images: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(
        DateTime, default=utcnow, server_default=func.current_timestamp()
    )
    undone_at: Mapped[datetime | None] = mapped_column(DateTime)


class EditChange(Base):
    """A row-level change: `action` is insert/update/delete; JSON snapshots of the row around it."""

    __tablename__ = "edit_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    edit_id: Mapped[int] = mapped_column(ForeignKey("edit_log.id", ondelete="CASCADE"), index=True)
    table_name: Mapped[str] = mapped_column(String(32))
    row_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(8))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)


class AnnotationRun(Base):
    """One `annotate run` of one model: the caption style it used and the usage it cost (migration 0006)."""

    __tablename__ = "annotation_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_name: Mapped[str] = mapped_column(String(200), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    style_name: Mapped[str | None] = mapped_column(String(200))
    style_hash: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    images_annotated: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    thinking_tokens: Mapped[int] = mapped_column(Integer, default=0)


class AnnotationStyle(Base):
    """Which caption style made an image's current result of a model, so it can be searched."""

    __tablename__ = "annotation_styles"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("annotation_runs.id", ondelete="SET NULL"))
    style_name: Mapped[str] = mapped_column(String(200))
    style_hash: Mapped[str] = mapped_column(String(16))

    __table_args__ = (Index("ix_annotation_styles_style", "style_name", "style_hash"),)


class ImageCrop(Base):
    """A person's crop rectangle for one image, in upright pixels; export applies it before any
    resize and the original file is never changed. Written through the edit log, so undoable."""

    __tablename__ = "image_crops"

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), unique=True)
    x: Mapped[int] = mapped_column(Integer)
    y: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WorkItem(Base):
    """A batch of images for one model: queued, claimed under a lease, or done (see `claim_repository`).

    `job` names the enqueue that made it (a distributed run, or a plain run's own owner id)."""

    __tablename__ = "work_items"
    __table_args__ = (Index("ix_work_items_model_state", "model_id", "state", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(128), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    size: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(8), default="pending")  # pending | claimed | done
    owner: Mapped[str | None] = mapped_column(String(128), index=True)
    lease_expires_at: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float)


class WorkItemImage(Base):
    """An image in an open work item: at most one open item per (model, image), so enqueuing twice
    (or two runs at once) never queues an image twice. Rows go when their item is done."""

    __tablename__ = "work_item_images"

    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"), index=True)


class Worker(Base):
    """A process taking work items (a `lorairo worker` or a plain `annotate run`), with its heartbeat."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    model_name: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[float] = mapped_column(Float)
    heartbeat_at: Mapped[float] = mapped_column(Float)
    batches_done: Mapped[int] = mapped_column(Integer, default=0)
    images_done: Mapped[int] = mapped_column(Integer, default=0)
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)


class StoreChange(Base):
    """One row whose `version` grows with every stored batch of results: the change feed's
    cheap "anything new?" counter (PostgreSQL also sends NOTIFY; see `change_feed`)."""

    __tablename__ = "store_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class ImageQuality(Base):
    """Quality measures of one image (`storage/quality.py` says what each means), written at
    registration; `version` is the measures' version, so a changed measure can be recomputed."""

    __tablename__ = "image_quality"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    sharpness: Mapped[float | None] = mapped_column(Float)
    blur: Mapped[float | None] = mapped_column(Float, index=True)
    brightness: Mapped[float] = mapped_column(Float, index=True)
    contrast: Mapped[float] = mapped_column(Float)
    border: Mapped[float] = mapped_column(Float)
    letterbox: Mapped[bool] = mapped_column(Boolean, default=False)
    jpeg_quality: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ImageEmbedding(Base):
    """One image's vector from one embedding model (migration 0012): L2-normalised, stored as
    little-endian float16 bytes. The truth; any search index is a cache rebuilt from these rows.
    A re-run deletes and inserts, so a new `id` (never reused) marks a changed vector."""

    __tablename__ = "image_embeddings"
    __table_args__ = (
        UniqueConstraint("image_id", "model_id"),
        Index("ix_image_embeddings_model_id", "model_id", "id"),
        {"sqlite_autoincrement": True},  # ids never come back, so the fingerprint sees every change
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    dimensions: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ExportRejection(Base):
    """A person's decision to leave an image out of every export (migration 0012), e.g. the
    copies "keep best" set aside. Written through the edit log (a row per rejected image; restoring
    deletes it), so undoable; no model run touches it."""

    __tablename__ = "export_rejections"

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), unique=True)
    reason: Mapped[str | None] = mapped_column(Text)
    rejected_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
