"""The annotation repository's units of work, for the services that annotate, import and report.

`database/annotation_repository.py` runs inside a session it is given; here each operation gets
the transaction it needs:

- a batch of results is one `write_session(shared=True)`: on PostgreSQL workers store side by
  side (image row locks keep two batches on one image in turn), while edits, which take the
  writer lock whole, never interleave with a batch; the work item's completion rides along;
- a selection is read one page per short read transaction (`iter_selection`), so a long run
  never holds a snapshot open and `missing` is re-evaluated page by page;
- re-thresholding is one write transaction; everything else is a read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from image_annotator_lib.core.types import AnnotationResult
from lorairo.database.annotation_repository import (
    AnnotationFailureRow,
    AnnotationRepository,
    ImageToAnnotate,
    RethresholdCounts,
    SaveCounts,
    SelectionMode,
)
from lorairo.database.engine import Database, StoreSession
from lorairo.utils.chunks import chunked


class AnnotationStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.repository = AnnotationRepository()

    def ensure_model(self, name: str, *, provider: str, kind: str) -> int:
        with self.database.write_session() as session:
            return self.repository.ensure_model(session, name, provider=provider, kind=kind)

    def model_id(self, name: str) -> int | None:
        with self.database.read_session() as session:
            return self.repository.model_id(session, name)

    def count_selection(self, model_id: int, mode: SelectionMode, ids: Sequence[int] = ()) -> int:
        with self.database.read_session() as session:
            return self.repository.count_selection(session, model_id, mode, ids)

    def iter_selection(
        self, model_id: int, mode: SelectionMode, ids: Sequence[int] = (), page_size: int = 100
    ) -> Iterator[list[ImageToAnnotate]]:
        """Pages of images in id order, one short read transaction per page."""
        if mode == "ids":
            for chunk in chunked(sorted(set(ids)), page_size):
                with self.database.read_session() as session:
                    page = self.repository.selection_of(session, model_id, chunk)
                if page:
                    yield page
            return
        last_id = 0
        while True:
            with self.database.read_session() as session:
                page = self.repository.selection_after(session, model_id, mode, last_id, page_size)
            if not page:
                return
            last_id = page[-1].id
            yield page

    def save_results(
        self,
        model_id: int,
        model_name: str,
        provider: str,
        results: Sequence[tuple[int, AnnotationResult]],
        preferred: Mapping[str, str] | None = None,
        and_then: Callable[[StoreSession], None] | None = None,
    ) -> SaveCounts:
        """One batch in one transaction (the writer lock taken shared; see the module)."""
        with self.database.write_session(shared=True) as session:
            return self.repository.save_results(
                session, model_id, model_name, provider, results, preferred, and_then
            )

    def rethreshold(
        self, model_name: str, *, general: float | None, character: float | None
    ) -> RethresholdCounts:
        with self.database.write_session() as session:
            return self.repository.rethreshold(session, model_name, general=general, character=character)

    def check_policy_violations(self, image_ids: Sequence[int], model_name: str) -> set[int]:
        with self.database.read_session() as session:
            return self.repository.check_policy_violations(session, image_ids, model_name)

    def list_failures(
        self, model_name: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> tuple[int, list[AnnotationFailureRow]]:
        with self.database.read_session() as session:
            return self.repository.list_failures(session, model_name, limit=limit, offset=offset)
