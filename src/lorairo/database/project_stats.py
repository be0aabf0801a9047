"""Whole-project row counts, for `project info` and the GUI's status bar."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lorairo.database.schema import AnnotationFailure, Caption, Image, Model, Rating, Score, Tag


@dataclass(frozen=True)
class ProjectCounts:
    images: int
    tags: int
    captions: int
    scores: int
    ratings: int
    models: int
    annotation_failures: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def count_rows(session: Session) -> ProjectCounts:
    tables = {
        "images": Image,
        "tags": Tag,
        "captions": Caption,
        "scores": Score,
        "ratings": Rating,
        "models": Model,
        "annotation_failures": AnnotationFailure,
    }
    counts = {
        name: session.scalar(select(func.count()).select_from(table)) or 0 for name, table in tables.items()
    }
    return ProjectCounts(**counts)
