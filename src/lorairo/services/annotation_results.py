"""Reading and re-thresholding stored annotation results: what `annotate runs/failures/rethreshold` show.

Kept apart from `AnnotationService`, which needs the configuration and a model registry to run
models; these commands only read or adjust what earlier runs stored.
"""

from __future__ import annotations

from lorairo.database.annotation_repository import RethresholdCounts
from lorairo.database.failures import AnnotationFailureRow
from lorairo.database.run_repository import RunRepository, RunRow
from lorairo.errors import ValidationError
from lorairo.services.annotation_store import AnnotationStore
from lorairo.services.project_service import Project


class AnnotationResults:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.annotations = AnnotationStore(project.database)
        self.run_log = RunRepository()

    def runs(self, model_name: str | None = None, limit: int = 50) -> list[RunRow]:
        """Past runs, newest first, with their usage and caption style."""
        with self.project.database.read_session() as session:
            return self.run_log.runs(session, model_name, limit)

    def images_with_style(self, style_name: str) -> list[int]:
        """Images whose results a caption style made."""
        with self.project.database.read_session() as session:
            return self.run_log.images_with_style(session, style_name)

    def failures(
        self, model_name: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> tuple[int, list[AnnotationFailureRow]]:
        """Total recorded failures (of one model, or all) and one page of them, newest first."""
        return self.annotations.list_failures(model_name, limit=limit, offset=offset)

    def rethreshold(
        self, model_name: str, *, general: float | None, character: float | None
    ) -> RethresholdCounts:
        """Re-apply thresholds to a model's stored confidences; unknown models are bad input."""
        if self.annotations.model_id(model_name) is None:
            raise ValidationError(f"project {self.project.name!r} has no results from model {model_name!r}")
        return self.annotations.rethreshold(model_name, general=general, character=character)
