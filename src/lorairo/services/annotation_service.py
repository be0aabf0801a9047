"""Running annotators over a project: select, decode, annotate, store, batch by batch.

The loop is the same for every `Annotator` (local ONNX model or vision LLM). While one batch is
being annotated, a prefetch thread decodes the next one and runs the annotator's `prepare` on it,
and a store thread commits the previous one, so the model never waits on the disk, on resizing or
on SQLite. Each batch is committed on its own, so a run
stopped at any point keeps its work and `--missing` resumes after it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from loguru import logger
from PIL import Image

from image_annotator_lib.api import AestheticScorer
from image_annotator_lib.core.base import Annotator
from image_annotator_lib.core.types import AnnotationFailure, AnnotationResult
from image_annotator_lib.providers.styles import CaptionStyle
from image_annotator_lib.registry import ModelRegistry, annotator_class
from lorairo.annotations.ai_annotator import (
    build_registry,
    load_annotator,
    run_stopping_error,
    shared_encoder,
)
from lorairo.annotations.caption_styles import attach_prompt_values, with_style
from lorairo.annotations.provider_settings import resolve_provider_model
from lorairo.database.annotation_repository import ImageToAnnotate, SaveCounts
from lorairo.database.claim_repository import DEFAULT_LEASE_SECONDS, QueueProgress, WorkerRow, new_owner
from lorairo.database.embedding_repository import EmbeddingRepository
from lorairo.database.run_repository import RunRepository, RunUsage
from lorairo.errors import ValidationError
from lorairo.services.annotation_store import AnnotationStore
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.progress import CancelToken, ProgressCallback, no_progress
from lorairo.services.project_service import Project
from lorairo.services.tag_service import TagService
from lorairo.services.work_queue import WorkQueue
from lorairo.utils.chunks import chunked

Selection = Literal["missing", "all"] | Sequence[int]
# Done work items of jobs nobody followed to the end (`--detach`) go at the next enqueue after this.
DONE_ITEMS_KEPT_SECONDS = 24 * 3600.0


@dataclass
class ModelRunStats:
    name: str
    selected: int = 0
    annotated: int = 0
    failures: int = 0
    tags: int = 0
    seconds: float = 0.0
    run_id: int | None = None  # its `annotation_runs` row (usage and style stored per run)
    requests: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0
    execution_provider: str | None = None  # local models: the ONNX Runtime provider that ran them
    scored_from: str | None = None  # scorers: the embedder whose stored vectors replaced the encoder
    scored_from_vectors: int = 0  # images scored from those vectors, never decoded

    def usage(self) -> RunUsage:
        return RunUsage(
            self.annotated,
            self.failures,
            self.requests,
            self.retries,
            self.input_tokens,
            self.output_tokens,
            self.thinking_tokens,
        )


@dataclass
class AnnotationReport:
    project: str
    models: list[str]
    selection: str
    batch_size: int
    images_selected: int = 0
    images_annotated: int = 0
    failures: int = 0
    tags_stored: int = 0
    ratings_stored: int = 0
    scores_stored: int = 0
    captions_stored: int = 0
    embeddings_stored: int = 0
    requests: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0  # part of output_tokens
    style: str | None = None  # caption style name and hash, e.g. "booru-tags@3f2a..."
    policy_violations: int = 0
    violations_skipped: int = 0
    claimed_by_other_runs: int = 0
    cancelled: bool = False
    elapsed_seconds: float = 0.0
    per_model: list[ModelRunStats] = field(default_factory=list)

    def add(self, counts: SaveCounts, results: Sequence[AnnotationResult]) -> None:
        self.images_annotated += counts.annotated
        self.failures += counts.failures
        self.tags_stored += counts.tags
        self.ratings_stored += counts.ratings
        self.scores_stored += counts.scores
        self.captions_stored += counts.captions
        self.embeddings_stored += counts.embeddings
        self.policy_violations += counts.policy_violations
        for result in results:
            self.requests += result.usage.requests
            self.retries += result.usage.retries
            self.input_tokens += result.usage.input_tokens
            self.output_tokens += result.usage.output_tokens
            self.thinking_tokens += result.usage.thinking_tokens

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["elapsed_seconds"] = round(self.elapsed_seconds, 3)
        for model in data["per_model"]:
            model["seconds"] = round(model["seconds"], 3)
        return data


@dataclass
class EnqueueReport:
    """What `annotate run --distributed` queued; `job` names it for progress."""

    project: str
    job: str
    models: list[str]
    selection: str
    batch_size: int
    images_queued: int = 0
    already_queued: int = 0  # in an open item of an earlier enqueue or a running `annotate run`

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Heartbeat:
    """Renews this process's leases and heartbeat every third of the lease while work runs, so
    a slow batch is never taken from a live holder; a killed process simply stops renewing."""

    def __init__(self, claims: WorkQueue) -> None:
        self.claims = claims
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.claims.lease_seconds / 3):
            try:
                self.claims.heartbeat()
            except Exception:  # a busy or briefly unreachable store: try again next beat
                logger.exception("renewing leases failed")


@dataclass
class _Page:
    """Images to decode next; `item`, when set, is the work item done once this page is stored."""

    refs: list[ImageToAnnotate]
    item: int | None = None
    item_size: int = 0


@dataclass
class _Batch:
    """A page after decoding and `prepare`: what to annotate, and what already failed."""

    to_annotate: list[int]  # image ids, in the order `prepared` holds them
    prepared: Any
    failed: list[tuple[int, AnnotationResult]]
    item: int | None = None  # the work item this batch completes once stored
    item_size: int = 0
    reused: list[tuple[int, AnnotationResult]] = field(default_factory=list)  # scored from stored vectors


@dataclass
class _Saving:
    """A batch handed to the store thread: its pending counts and the results being written."""

    counts: Future[SaveCounts]
    results: list[tuple[int, AnnotationResult]]


def _describe(selection: Selection) -> tuple[Literal["missing", "all", "ids"], list[int]]:
    if isinstance(selection, str):
        if selection not in ("missing", "all"):
            raise ValidationError(f"selection must be 'missing', 'all' or image ids, got {selection!r}")
        return selection, []
    ids = [int(i) for i in selection]
    if not ids:
        raise ValidationError("no image ids given")
    return "ids", ids


class AnnotationService:
    def __init__(
        self,
        project: Project,
        config: ConfigurationService,
        registry: ModelRegistry | None = None,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        """`lease_seconds`: how long a claim outlives a silent (killed) holder before others may
        take its work; holders renew every third of it."""
        if lease_seconds <= 0:
            raise ValidationError(f"lease must be positive, got {lease_seconds}")
        self.project = project
        self.config = config
        self.registry = registry or build_registry(config)
        self.repository = AnnotationStore(project.database)
        self.runs = RunRepository()
        self.claims = WorkQueue(project.database, lease_seconds=lease_seconds)
        self.embeddings = EmbeddingRepository()
        self._style: CaptionStyle | None = None
        self._trigger = ""
        self._vectors_of: int | None = None  # model id of the stored vectors the current scorer reuses
        self.tags = TagService(config)

    def run(
        self,
        model_names: Sequence[str],
        selection: Selection = "missing",
        batch_size: int | None = None,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        *,
        retry_violations: bool = False,
        style: CaptionStyle | None = None,
        trigger: str = "",
    ) -> AnnotationReport:
        """Annotate the selection with each model in turn; API models ask in `style`'s words (its
        `{trigger}` filled from `trigger`), and each result records the style's name and hash. Every model is loaded before any image
        is touched, so a model that cannot load stops the run having marked nothing. Images an API
        model refused for content policy are skipped (and counted) unless `retry_violations`."""
        names = list(dict.fromkeys(model_names))
        if not names:
            raise ValidationError("name at least one model (-m); `lorairo annotate models` lists them")
        mode, ids = _describe(selection)
        size = batch_size or self.config.config.annotation.batch_size
        if size < 1:
            raise ValidationError(f"batch size must be at least 1, got {size}")
        cancel = cancel or CancelToken()
        report = AnnotationReport(self.project.name, names, mode, size)
        started = time.perf_counter()
        for name in names:
            resolve_provider_model(self.registry, self.config, name)
        annotators = [load_annotator(self.registry, name) for name in names]
        self._style, self._trigger = style, trigger
        if style is not None:
            annotators = [with_style(annotator, style) for annotator in annotators]
            report.style = f"{style.name}@{style.hash}"
        self.claims.register_worker(", ".join(names))
        try:
            with _Heartbeat(self.claims):
                for annotator in annotators:
                    stats = self._start_stats(annotator, report)
                    try:
                        self._run_model(
                            annotator, mode, ids, size, report, stats, progress, cancel, retry_violations
                        )
                    finally:  # a stopped run still records what it cost
                        self._finish_run(stats)
                    if report.cancelled:
                        break
        finally:  # other runs may take this run's unfinished images at once
            self.claims.release()
        report.elapsed_seconds = time.perf_counter() - started
        return report

    def enqueue(
        self, model_names: Sequence[str], selection: Selection = "missing", batch_size: int | None = None
    ) -> EnqueueReport:
        """Queue the selection as work items for `lorairo worker`s (`annotate run --distributed`);
        images already queued for a model are not queued again. Nothing is loaded or annotated."""
        names = list(dict.fromkeys(model_names))
        if not names:
            raise ValidationError("name at least one model (-m); `lorairo annotate models` lists them")
        mode, ids = _describe(selection)
        size = batch_size or self.config.config.annotation.batch_size
        if size < 1:
            raise ValidationError(f"batch size must be at least 1, got {size}")
        report = EnqueueReport(self.project.name, f"job-{new_owner()}", names, mode, size)
        self.claims.forget(finished_before=time.time() - DONE_ITEMS_KEPT_SECONDS)
        for name in names:
            spec = resolve_provider_model(self.registry, self.config, name) or self.registry.spec(name)
            kind = annotator_class(spec.class_name).kind
            model_id = self.repository.ensure_model(name, provider=spec.provider or "local", kind=kind)
            for page in self.repository.iter_selection(model_id, mode, ids, page_size=size):
                queued = self.claims.enqueue(report.job, model_id, [ref.id for ref in page])
                report.images_queued += queued
                report.already_queued += len(page) - queued
        return report

    def progress_of(self, job: str) -> QueueProgress:
        """How far the workers are with an enqueued job."""
        return self.claims.progress(job=job)

    def watch(
        self,
        job: str,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        poll_seconds: float = 1.0,
    ) -> QueueProgress:
        """Report a job's progress across all workers until none of its items is open (or the
        caller cancels: the work stays queued for the workers)."""
        cancel = cancel or CancelToken()
        while True:
            state = self.progress_of(job)
            workers = len(self.live_workers())
            progress(state.images_done, state.images_total, f"{workers} live workers")
            if state.items_open == 0:
                self.claims.forget(job=job)  # followed to the end: its done items served their use
                return state
            if cancel.wait(poll_seconds):
                return state

    def live_workers(self, *, include_stopped: bool = False) -> list[WorkerRow]:
        """Workers (and plain runs) whose heartbeat is recent: a live one beats every third of
        its lease, so one silent for a whole lease counts as gone."""
        return self.claims.workers(stale_after=self.claims.lease_seconds, include_stopped=include_stopped)

    def work(
        self,
        model_name: str,
        batch_size: int | None = None,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        *,
        until_empty: bool = False,
        poll_seconds: float = 2.0,
        retry_violations: bool = False,
    ) -> AnnotationReport:
        """Be one worker (`lorairo worker`): take queued items of this model until cancelled (or,
        with `until_empty`, until the model's queue has no open items left). The model loads once;
        a batch that fails is recorded per image like in a plain run."""
        size = batch_size or self.config.config.annotation.batch_size
        if size < 1:
            raise ValidationError(f"batch size must be at least 1, got {size}")
        cancel = cancel or CancelToken()
        report = AnnotationReport(self.project.name, [model_name], "queue", size)
        started = time.perf_counter()
        resolve_provider_model(self.registry, self.config, model_name)
        annotator = load_annotator(self.registry, model_name)
        self.claims.register_worker(model_name)
        try:
            with _Heartbeat(self.claims):
                stats = self._start_stats(annotator, report)
                provider = annotator.spec.provider or "local"
                model_id = self.repository.ensure_model(
                    annotator.name, provider=provider, kind=annotator.kind
                )
                pages = self._queued(
                    model_id,
                    annotator,
                    size,
                    report,
                    stats,
                    cancel,
                    until_empty,
                    poll_seconds,
                    retry_violations,
                )
                try:
                    self._process(annotator, model_id, pages, report, stats, progress, cancel, None)
                finally:
                    self._finish_run(stats)
        finally:  # the item in hand goes back to the queue at once
            self.claims.release()
        report.elapsed_seconds = time.perf_counter() - started
        return report

    def _start_stats(self, annotator: Annotator, report: AnnotationReport) -> ModelRunStats:
        stats = ModelRunStats(annotator.name, execution_provider=annotator.execution_provider)
        report.per_model.append(stats)
        style_key = (self._style.name, self._style.hash) if self._style is not None else None
        with self.project.database.write_session() as session:
            stats.run_id = self.runs.start(
                session, annotator.name, annotator.spec.provider or "local", style_key
            )
        return stats

    def _finish_run(self, stats: ModelRunStats) -> None:
        with self.project.database.write_session() as session:
            self.runs.finish(session, stats.run_id or 0, stats.usage())

    def _run_model(
        self,
        annotator: Annotator,
        mode: Literal["missing", "all", "ids"],
        ids: list[int],
        batch_size: int,
        report: AnnotationReport,
        stats: ModelRunStats,
        progress: ProgressCallback,
        cancel: CancelToken,
        retry_violations: bool = False,
    ) -> None:
        provider = annotator.spec.provider or "local"
        model_id = self.repository.ensure_model(annotator.name, provider=provider, kind=annotator.kind)
        stats.selected = self.repository.count_selection(model_id, mode, ids)
        with self.project.database.read_session() as session:
            stored = [m.name for m in self.embeddings.models(session)]
            stats.scored_from = shared_encoder(self.registry, annotator, stored)
            self._vectors_of = (
                self.embeddings.model_id(session, stats.scored_from) if stats.scored_from else None
            )
        report.images_selected += stats.selected
        refs = self.repository.iter_selection(model_id, mode, ids, page_size=batch_size)
        if annotator.is_api and not retry_violations:
            refs = self._skip_violations(refs, annotator.name, report)
        pages = self._claimed(refs, model_id, mode, report)
        self._process(annotator, model_id, pages, report, stats, progress, cancel, stats.selected)

    def _process(
        self,
        annotator: Annotator,
        model_id: int,
        pages: Iterator[_Page],
        report: AnnotationReport,
        stats: ModelRunStats,
        progress: ProgressCallback,
        cancel: CancelToken,
        total: int | None,
    ) -> None:
        """Decode ahead, annotate, store behind: the one loop of plain runs and workers."""
        started = time.perf_counter()
        provider = annotator.spec.provider or "local"
        done = 0
        progress(0, total, annotator.name)
        with (
            ThreadPoolExecutor(self.config.max_workers, thread_name_prefix="decode") as decoders,
            ThreadPoolExecutor(1, thread_name_prefix="prefetch") as prefetch,
            ThreadPoolExecutor(1, thread_name_prefix="store") as store,
        ):
            pending = self._submit(prefetch, decoders, annotator, pages)
            saving: _Saving | None = None
            while pending is not None:
                batch = pending.result()
                pending = None if cancel.cancelled else self._submit(prefetch, decoders, annotator, pages)
                results = batch.failed + batch.reused + self._annotate(annotator, batch)
                stats.scored_from_vectors += len(batch.reused)
                if saving is not None:  # one batch in flight keeps commits in order and memory bounded
                    self._tally(saving, report, stats)
                saving = _Saving(
                    store.submit(
                        self._save, model_id, annotator.name, provider, results, stats.run_id, batch
                    ),
                    results,
                )
                done += len(results)
                progress(done, total, annotator.name)
                if cancel.cancelled:
                    report.cancelled = True
                    pending = None
            if saving is not None:
                self._tally(saving, report, stats)
        stats.seconds = time.perf_counter() - started

    def _save(
        self,
        model_id: int,
        model_name: str,
        provider: str,
        results: list[tuple[int, AnnotationResult]],
        run_id: int | None = None,
        batch: _Batch | None = None,
    ) -> SaveCounts:
        """Runs in the store thread while the next batch is inferred, so the model never waits on
        the store or the tag lookup. Each batch is its own transaction, which also marks the work
        item it finishes done."""
        item = batch.item if batch is not None else None
        size = batch.item_size if batch is not None else 0
        if not results:
            if item is not None:
                self.claims.complete(item, size)
            return SaveCounts()
        finish = self.claims.completion(item, size) if item is not None else None
        counts = self.repository.save_results(
            model_id, model_name, provider, results, self._preferred_tags(results), and_then=finish
        )
        if self._style is not None and run_id is not None:
            stored = [image_id for image_id, result in results if result.ok]
            with self.project.database.write_session() as session:
                self.runs.record_styles(
                    session, stored, model_id, run_id, (self._style.name, self._style.hash)
                )
        return counts

    @staticmethod
    def _tally(saving: _Saving, report: AnnotationReport, stats: ModelRunStats) -> None:
        """Wait for a batch's transaction (re-raising its error here) and count what it stored."""
        counts = saving.counts.result()
        report.add(counts, [result for _, result in saving.results])
        stats.annotated += counts.annotated
        stats.failures += counts.failures
        stats.tags += counts.tags
        for _, result in saving.results:
            stats.requests += result.usage.requests
            stats.retries += result.usage.retries
            stats.input_tokens += result.usage.input_tokens
            stats.output_tokens += result.usage.output_tokens
            stats.thinking_tokens += result.usage.thinking_tokens

    def _preferred_tags(self, results: Sequence[tuple[int, AnnotationResult]]) -> dict[str, str] | None:
        """Model tags are stored in the tag DB's preferred form (one lookup per batch); None without a DB."""
        if not self.tags.available():
            return None
        return self.tags.resolve_aliases(tag.name for _, result in results for tag in result.tags)

    def _claimed(
        self,
        pages: Iterator[list[ImageToAnnotate]],
        model_id: int,
        mode: Literal["missing", "all", "ids"],
        report: AnnotationReport,
    ) -> Iterator[_Page]:
        """Only the images this run could claim: another run, or the queue, keeps its own."""
        for page in pages:
            item = self.claims.claim(model_id, [ref.id for ref in page], skip_done=mode == "missing")
            claimed = set(item.image_ids) if item is not None else set()
            report.claimed_by_other_runs += len(page) - len(claimed)
            if item is not None:
                yield _Page([ref for ref in page if ref.id in claimed], item.id, len(claimed))

    def _queued(
        self,
        model_id: int,
        annotator: Annotator,
        batch_size: int,
        report: AnnotationReport,
        stats: ModelRunStats,
        cancel: CancelToken,
        until_empty: bool,
        poll_seconds: float,
        retry_violations: bool,
    ) -> Iterator[_Page]:
        """Items taken from the queue, split into inference batches. While the queue is empty it
        yields empty pages, so the batch in hand is annotated and stored instead of waiting."""
        idle = False
        while not cancel.cancelled:
            if idle and cancel.wait(poll_seconds):
                return
            item = self.claims.claim_next(model_id)
            if item is None:
                if until_empty and self.claims.progress(model_id=model_id).items_open == 0:
                    return
                idle = True
                yield _Page([])
                continue
            idle = False
            refs = (
                [
                    ref
                    for page in self.repository.iter_selection(
                        model_id, "ids", item.image_ids, page_size=max(len(item.image_ids), 1)
                    )
                    for ref in page
                ]
                if item.image_ids
                else []
            )
            if annotator.is_api and not retry_violations:
                refs = next(self._skip_violations(iter([refs]), annotator.name, report), [])
            stats.selected += len(refs)
            report.images_selected += len(refs)
            chunks = list(chunked(refs, batch_size)) or [[]]
            for index, chunk in enumerate(chunks):
                last = index == len(chunks) - 1
                yield _Page(chunk, item.id if last else None, len(refs))

    def _skip_violations(
        self, pages: Iterator[list[ImageToAnnotate]], model_name: str, report: AnnotationReport
    ) -> Iterator[list[ImageToAnnotate]]:
        """Leave out images this model refused before: asking again costs money and rarely helps."""
        for page in pages:
            refused = self.repository.check_policy_violations([ref.id for ref in page], model_name)
            report.violations_skipped += len(refused)
            kept = [ref for ref in page if ref.id not in refused]
            if kept:
                yield kept

    def _submit(
        self,
        prefetch: ThreadPoolExecutor,
        decoders: ThreadPoolExecutor,
        annotator: Annotator,
        pages: Iterator[_Page],
    ) -> Future[_Batch] | None:
        page = next(pages, None)
        return None if page is None else prefetch.submit(self._load, decoders, annotator, page)

    def _load(self, decoders: ThreadPoolExecutor, annotator: Annotator, item: _Page) -> _Batch:
        """Runs in the prefetch thread: decode in parallel, then the annotator's `prepare`."""
        page = item.refs
        reused = self._score_stored(annotator, page)
        done = {image_id for image_id, _ in reused}
        page = [ref for ref in page if ref.id not in done]
        decoded = list(decoders.map(self._open, page, itertools.repeat(annotator)))
        images = [
            (ref.id, item) for ref, item in zip(page, decoded, strict=True) if isinstance(item, Image.Image)
        ]
        failed = [
            (ref.id, AnnotationResult(annotator.name, failure=item))
            for ref, item in zip(page, decoded, strict=True)
            if isinstance(item, AnnotationFailure)
        ]
        batch = _Batch([image_id for image_id, _ in images], None, failed, item.item, item.item_size, reused)
        if self._style is not None:
            attach_prompt_values(images, self._style, self._trigger, self.project.database)
        if not images:
            return batch
        try:
            batch.prepared = annotator.prepare([image for _, image in images])
        except Exception as exc:  # a model's own bug fails this batch, not the run
            if (error := run_stopping_error(annotator.name, exc)) is not None:
                raise error from exc
            logger.exception(f"{annotator.name}: preparing a batch failed")
            batch.failed += self._model_error(annotator, batch.to_annotate, exc)
            batch.to_annotate = []
        return batch

    def _score_stored(
        self, annotator: Annotator, page: list[ImageToAnnotate]
    ) -> list[tuple[int, AnnotationResult]]:
        """A scorer whose encoder an embedder shares scores the page's stored vectors with its
        head alone: no decode, no encoder run. Images without a stored vector go the usual way."""
        if self._vectors_of is None or not isinstance(annotator, AestheticScorer):
            return []
        with self.project.database.read_session() as session:
            vectors = self.embeddings.vectors(session, self._vectors_of, [ref.id for ref in page])
        if not vectors:
            return []
        ids = list(vectors)
        try:
            results = annotator.score_embeddings(np.stack([vectors[i] for i in ids]))
        except Exception as exc:  # the head's own bug fails these images, not the run
            if (error := run_stopping_error(annotator.name, exc)) is not None:
                raise error from exc
            logger.exception(f"{annotator.name}: scoring stored vectors failed")
            return self._model_error(annotator, ids, exc)
        return list(zip(ids, results, strict=True))

    def _open(self, ref: ImageToAnnotate, annotator: Annotator) -> Image.Image | AnnotationFailure:
        """Open lazily so the annotator can pick a reduced JPEG scale before the pixels decode."""
        path = self.project.file_path(ref.path)
        try:
            image = Image.open(path)
            annotator.draft(image)
            image.load()
        except FileNotFoundError:
            return AnnotationFailure("unreadable_image", f"file missing: {path}")
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            return AnnotationFailure("unreadable_image", f"{type(exc).__name__}: {exc}")
        return image

    def _annotate(self, annotator: Annotator, batch: _Batch) -> list[tuple[int, AnnotationResult]]:
        if not batch.to_annotate:
            return []
        try:
            results = annotator.annotate_prepared(batch.prepared)
            return list(zip(batch.to_annotate, results, strict=True))
        except Exception as exc:  # one failing batch is recorded; the run goes on
            if (error := run_stopping_error(annotator.name, exc)) is not None:
                raise error from exc
            logger.exception(f"{annotator.name}: a batch failed")
            return self._model_error(annotator, batch.to_annotate, exc)

    @staticmethod
    def _model_error(
        annotator: Annotator, image_ids: list[int], exc: Exception
    ) -> list[tuple[int, AnnotationResult]]:
        failure = AnnotationFailure("model_error", f"{type(exc).__name__}: {exc}")
        return [(image_id, AnnotationResult(annotator.name, failure=failure)) for image_id in image_ids]
