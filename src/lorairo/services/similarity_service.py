"""Curating by meaning: images like a given one, images matching words, and near-duplicate groups
(from stored embeddings, or from the pHash links registration made), with "keep best" rejecting
the rest from export as one undoable edit.

Vectors live in the database (`image_embeddings`, float16); this service keeps one coarse-cell
index per model under `<project>/cache/vectors/` (`storage/vector_index.py`) and rebuilds it from
the stored vectors whenever the store's fingerprint says it is stale.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from image_annotator_lib.registry import ModelRegistry
from lorairo.annotations.ai_annotator import build_registry, embed_text
from lorairo.database.embedding_repository import EmbeddingModel, EmbeddingRepository, ImageFacts
from lorairo.database.image_repository import ImageRepository
from lorairo.database.query import Term
from lorairo.errors import ValidationError
from lorairo.registration.duplicates import group_links
from lorairo.services.choices import DEFAULT_THRESHOLD
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditReport, EditService, EditTarget
from lorairo.services.progress import CancelToken, ProgressCallback, no_progress
from lorairo.services.project_service import Project
from lorairo.storage.vector_index import Step, VectorIndex, components

CACHE_DIR = "cache/vectors"
QUERY_LIMIT = 50  # `similar:ID` and `text:"..."` without a threshold: this many nearest images
RANK_BATCH = 2000  # images whose facts one read transaction fetches while ranking groups


@dataclass(frozen=True)
class SimilarImage:
    id: int
    name: str
    similarity: float


@dataclass(frozen=True)
class SimilarReport:
    """`images similar`: the nearest images, nearest first, the query image left out."""

    image: int | None
    model: str
    results: list[SimilarImage]
    text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"image": self.image, "model": self.model}
        if self.text is not None:
            data["text"] = self.text
        data["results"] = [
            {"id": r.id, "name": r.name, "similarity": round(r.similarity, 6)} for r in self.results
        ]
        return data


@dataclass(frozen=True)
class DuplicateMember:
    id: int
    name: str
    width: int
    height: int
    score: float | None
    sharpness: float | None
    export_rejected: bool
    thumbnail_path: str | None  # relative to the project root, as stored


@dataclass(frozen=True)
class DuplicateGroup:
    keep: int  # the best (see `best_first`)
    images: list[DuplicateMember]  # best first


RANKED_BY = ["resolution", "score", "sharpness"]


@dataclass
class DuplicatesReport:
    """Near-duplicate groups, each best first, and the "keep best" edit (dry run or applied).
    `method` "semantic": embedding pairs at cosine >= `threshold` of `model`; "phash": the
    links registration stored (pHash Hamming distance), no model or threshold."""

    method: str
    model: str | None
    threshold: float | None
    images_indexed: int
    pairs: int
    groups: list[DuplicateGroup] = field(default_factory=list)
    keep_best: EditReport | None = None
    ranked_by: list[str] = field(default_factory=lambda: list(RANKED_BY))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["keep_best"] = self.keep_best.to_dict() if self.keep_best else None
        return data


def lesser(groups: Iterable[DuplicateGroup]) -> list[int]:
    """What "keep best" rejects: every group's images but its best, unless rejected already."""
    return [m.id for g in groups for m in g.images[1:] if not m.export_rejected]


def reason_of(report: DuplicatesReport) -> str:
    """The edit log's reason for a "keep best" over `report`'s groups."""
    if report.method == "semantic":
        return f"semantic duplicate ({report.model} >= {report.threshold})"
    return "near duplicate (pHash)"


def best_first(members: list[ImageFacts]) -> list[ImageFacts]:
    """ "Keep best" order: resolution (pixels), then the effective score, then sharpness (the
    Laplacian variance registration measured), then the older image. A missing score or
    sharpness ranks below any measured one."""

    def measured(value: float | None) -> float:
        return -value if value is not None else np.inf

    return sorted(members, key=lambda m: (-m.pixels, measured(m.score), measured(m.sharpness), m.id))


def _step(progress: ProgressCallback, cancel: CancelToken | None, message: str) -> Step:
    """A storage `Step` that stops at the cancel token and reports under `message`."""

    def step(done: int, total: int) -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(done, total, message)

    return step


def _folder_name(model: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model)[:80]
    return f"{safe}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"


class SimilarityService:
    """`config` is needed only for text search (the model registry holds the text encoders)."""

    def __init__(
        self,
        project: Project,
        config: ConfigurationService | None = None,
        registry: ModelRegistry | None = None,
    ) -> None:
        self.project = project
        self.config = config
        self.repository = EmbeddingRepository()
        self._registry = registry
        self._indexes: dict[str, VectorIndex] = {}

    def models(self) -> list[EmbeddingModel]:
        with self.project.database.read_session() as session:
            return self.repository.models(session)

    def resolve_model(self, model: str | None) -> str:
        """The named model, else the only one with stored vectors, else the one with the most."""
        with self.project.database.read_session() as session:
            names = self.repository.model_names(session)
        if model is None:
            if not names:
                raise ValidationError(
                    "no image embeddings in this project; run an embedder first, e.g. "
                    "`lorairo annotate run -m clip-vit-b32-embed`"
                )
            return names[0] if len(names) == 1 else self.models()[0].name
        if model not in names:
            raise ValidationError(
                f"model {model!r} has no stored embeddings here (models with some: {', '.join(names) or 'none'})"
            )
        return model

    def index(
        self, model: str, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> VectorIndex:
        """The model's index, rebuilt from the stored vectors when they changed since it was built
        (kept open while they do not). A cancelled rebuild leaves the cache as it was."""
        with self.project.database.read_session() as session:
            model_id = self.repository.model_id(session, model)
            if model_id is None:
                raise ValidationError(f"no model named {model!r} in this project")
            fingerprint = self.repository.fingerprint(session, model_id)
        cached = self._indexes.get(model)
        if cached is not None and cached.fingerprint == list(fingerprint):
            return cached
        folder = self.project.root / CACHE_DIR / _folder_name(model)
        index = VectorIndex.open(folder, fingerprint)
        if index is None:
            newest = fingerprint[1]
            with self.project.database.read_session() as session:
                count = self.repository.count(session, model_id, newest)
            index = VectorIndex.build(
                folder,
                lambda: self._blocks(model_id, newest),
                count,
                fingerprint,
                step=_step(progress, cancel, "indexing vectors"),
            )
        self._indexes[model] = index
        return index

    def _blocks(self, model_id: int, up_to: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """A model's vectors up to row `up_to`, one short read transaction per block, so building
        a large index never holds one snapshot open."""
        last = 0
        while True:
            with self.project.database.read_session() as session:
                found = self.repository.block_after(session, model_id, last, up_to)
            if found is None:
                return
            ids, vectors, last = found
            yield ids, vectors

    def query_vector(self, image_id: int, model: str) -> np.ndarray:
        with self.project.database.read_session() as session:
            model_id = self.repository.model_id(session, model)
            found = self.repository.vectors(session, model_id, [image_id]) if model_id is not None else {}
            exists = image_id in found or self.repository.image_exists(session, image_id)
        if image_id not in found:
            if not exists:
                raise ValidationError(f"no image with id {image_id}")
            raise ValidationError(f"image {image_id} has no {model} embedding; run the model on it first")
        return found[image_id]

    def similar(
        self,
        image_id: int,
        *,
        limit: int | None = 50,
        model: str | None = None,
        min_similarity: float | None = None,
    ) -> SimilarReport:
        if limit is not None and limit < 1:
            raise ValidationError(f"--limit must be at least 1, got {limit}")
        name = self.resolve_model(model)
        vector = self.query_vector(image_id, name)
        found = self.index(name).search(
            vector, limit=limit, min_similarity=min_similarity, exclude=[image_id]
        )
        return SimilarReport(image_id, name, self._named(found.ids, found.similarities))

    def text_vector(self, text: str, model: str) -> np.ndarray:
        """The unit vector of `text` from `model`'s text encoder, in its images' space."""
        if not text.strip():
            raise ValidationError("the text to search for is empty")
        if self.config is None:
            raise ValidationError("text search needs the settings (the model registry)")
        if self._registry is None:
            self._registry = build_registry(self.config)
        return embed_text(self._registry, model, [text])[0]

    def by_text(
        self,
        text: str,
        *,
        limit: int | None = 50,
        model: str | None = None,
        min_similarity: float | None = None,
    ) -> SimilarReport:
        """Images ranked by how well they match `text` (CLIP text encoder of the same model)."""
        name = self.resolve_model(model)
        vector = self.text_vector(text, name)
        found = self.index(name).search(vector, limit=limit, min_similarity=min_similarity)
        return SimilarReport(None, name, self._named(found.ids, found.similarities), text=text)

    def _named(self, ids: np.ndarray, similarities: np.ndarray) -> list[SimilarImage]:
        with self.project.database.read_session() as session:
            facts = self.repository.facts(session, [int(i) for i in ids], self.project.score_kind)
        return [
            SimilarImage(int(i), facts[int(i)].name, float(s))
            for i, s in zip(ids, similarities, strict=True)
            if int(i) in facts  # an image deleted since the index was built
        ]

    def term_resolvers(self) -> dict[str, Callable[[Term], list[int]]]:
        """The resolvers the query fields `similar:` and `text:` name (for `SearchService`)."""
        return {"similar": self._resolve_similar, "text": self._resolve_text}

    def _resolve_similar(self, term: Term) -> list[int]:
        assert isinstance(term.value, tuple)
        image_id = int(term.value[0])
        if len(term.value) == 1:
            return [r.id for r in self.similar(image_id, limit=QUERY_LIMIT).results]
        threshold = float(term.value[1])
        found = self.similar(image_id, limit=None, min_similarity=threshold).results
        return [r.id for r in found if term.op == ">=" or r.similarity > threshold]

    def _resolve_text(self, term: Term) -> list[int]:
        return [r.id for r in self.by_text(str(term.value), limit=QUERY_LIMIT).results]

    def duplicates(
        self,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        model: str | None = None,
        keep_best: bool = False,
        apply: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> DuplicatesReport:
        """Groups of images whose vectors are at least `threshold` alike (cosine). With
        `keep_best`, all but each group's best are rejected from export in one edit (a dry run
        unless `apply`); images a person already rejected stay rejected.

        Progress comes in phases (indexing vectors if the cache is stale, comparing cells, ranking
        groups), each with its own done/total; cancelling raises `OperationCancelled` at the next
        step and nothing is written (finding groups only reads; the edit comes last, whole)."""
        if not -1.0 <= threshold <= 1.0:
            raise ValidationError(f"--threshold is a cosine similarity in [-1, 1], got {threshold}")
        name = self.resolve_model(model)
        index = self.index(name, progress, cancel)
        first, second = index.pairs(threshold, step=_step(progress, cancel, "comparing vectors"))
        report = DuplicatesReport("semantic", name, threshold, len(index), len(first))
        groups = [[int(i) for i in group] for group in components(first, second)]
        self._rank_groups(report, groups, progress, cancel)
        if keep_best:
            report.keep_best = self.keep_best(
                report.groups, reason_of(report), apply=apply, progress=progress, cancel=cancel
            )
        return report

    def phash_duplicates(
        self,
        *,
        keep_best: bool = False,
        apply: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> DuplicatesReport:
        """Groups of images registration linked as near-duplicates (pHash distance), ranked and
        kept-best like the semantic groups."""
        with self.project.database.read_session() as session:
            links = [(a, b) for a, b, _ in ImageRepository().iter_similarities(session)]
        groups = group_links(links)
        report = DuplicatesReport("phash", None, None, sum(len(g) for g in groups), len(links))
        self._rank_groups(report, groups, progress, cancel)
        if keep_best:
            report.keep_best = self.keep_best(
                report.groups, reason_of(report), apply=apply, progress=progress, cancel=cancel
            )
        return report

    def _rank_groups(
        self,
        report: DuplicatesReport,
        groups: list[list[int]],
        progress: ProgressCallback,
        cancel: CancelToken | None,
    ) -> None:
        """Each group best first, the facts of about `RANK_BATCH` images read per short read
        transaction (one per group cost ~1 ms each: most of the time at 100k images)."""
        step = _step(progress, cancel, "ranking groups")
        done = 0
        while done < len(groups):
            step(done, len(groups))
            batch: list[list[int]] = []
            size = 0
            while done + len(batch) < len(groups) and (not batch or size < RANK_BATCH):
                batch.append(groups[done + len(batch)])
                size += len(batch[-1])
            with self.project.database.read_session() as session:
                facts = self.repository.facts(
                    session, [i for group in batch for i in group], self.project.score_kind
                )
            for group in batch:
                ranked = best_first([facts[i] for i in group if i in facts])
                if len(ranked) < 2:  # the others were deleted since
                    continue
                members = [
                    DuplicateMember(
                        m.id,
                        m.name,
                        m.width,
                        m.height,
                        m.score,
                        m.sharpness,
                        m.export_rejected,
                        m.thumbnail_path,
                    )
                    for m in ranked
                ]
                report.groups.append(DuplicateGroup(ranked[0].id, members))
            done += len(batch)
        step(done, len(groups))

    def keep_best(
        self,
        groups: Iterable[DuplicateGroup],
        reason: str,
        *,
        apply: bool,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> EditReport | None:
        """Reject every group's lesser images from export as one edit-log entry (a dry run unless
        `apply`); None when nothing is left to reject. The GUI's per-group and all-groups "Keep
        best" and `--keep-best` all land here."""
        losers = lesser(groups)
        if not losers:
            return None
        return EditService(self.project).reject_from_export(
            EditTarget(ids=tuple(losers)), reason=reason, apply=apply, progress=progress, cancel=cancel
        )
