"""Registering folders of images into a project, and (re)generating processed copies.

Stored layout (paths in the database are relative to `Project.root`):

    images/originals/<sha[:2]>/<sha><ext>             the original bytes, unchanged
    images/processed/<res>/<sha[:2]>/<sha>.jpg|png    training copy (PNG when the source is lossless)
    images/thumbnails/<sha[:2]>/<sha>.webp            GUI thumbnail
    images/.staging/<pid>-<token>/                    one run's files before their rows commit

Pipeline: the scanner streams paths; a process pool decodes each file once (`registration.decode`)
and stages its files; the main process decides duplicates (`registration.duplicates`) and commits
~`[resources] batch_size` outcomes per transaction.

Why a kill at any point is safe: before moving a batch's staged files into place the run writes
`pending.json` (the paths it is about to fill) in its staging folder, and deletes it after the
batch commits. The next run discards the staging folders of dead processes, deleting journalled
files whose image never committed. Identity is the SHA-256, so a re-run skips what committed and
rewrites the same content-addressed paths for the rest.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from lorairo.database.engine import Database, Session
from lorairo.database.failures import RegistrationFailureRow
from lorairo.database.image_repository import ImageRepository, ProcessingTask
from lorairo.errors import ValidationError
from lorairo.registration.decode import (
    Decoded,
    DecodeOutcome,
    DecodeSettings,
    decode_file,
    init_worker,
    measure_stored,
)
from lorairo.registration.duplicates import BatchPlan, HammingIndex, group_links, plan_batch
from lorairo.registration.pool import ordered_map
from lorairo.registration.scanner import ScanStats, scan
from lorairo.registration.sidecars import Sidecar, sidecar_writes
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.progress import CancelToken, ProgressCallback, no_progress
from lorairo.services.project_service import Project
from lorairo.services.tag_service import TagService
from lorairo.storage import layout
from lorairo.storage.quality import QUALITY_VERSION, Quality
from lorairo.storage.render import ProcessedCopy, Rejected, render_stored
from lorairo.storage.validation import DECODER_CRASHED, INTERNAL_ERROR, UNREADABLE_FOLDER

JOURNAL = "pending.json"


@dataclass
class RegistrationCounts:
    """Running totals, passed to the GUI after every committed batch."""

    registered: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    failed: int = 0
    skipped_existing: int = 0
    sidecars_imported: int = 0
    # Rejected by an earlier run for a real reason and unchanged since: not decoded again.
    previously_rejected: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{self.registered} new, {self.duplicates} duplicates, "
            f"{self.near_duplicates} near-duplicates, {self.failed} failed"
            + (f", {self.previously_rejected} rejected before" if self.previously_rejected else "")
        )


@dataclass(frozen=True)
class BatchCommitted:
    """One committed batch: the new image ids (for a grid to show) and the totals so far."""

    image_ids: list[int]
    counts: RegistrationCounts


@dataclass
class RegistrationReport:
    project: str
    counts: RegistrationCounts = field(default_factory=RegistrationCounts)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    near_duplicates: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    ignored_non_images: int = 0
    skipped_links: list[str] = field(default_factory=list)  # folder links leading outside the paths
    seconds: float = 0.0
    cancelled: bool = False

    @property
    def files_seen(self) -> int:
        c = self.counts
        return c.registered + c.duplicates + c.failed + c.skipped_existing

    def to_dict(self) -> dict[str, Any]:
        c = self.counts
        return {
            "project": self.project,
            "registered": c.registered,
            "duplicates": self.duplicates,
            "near_duplicates": self.near_duplicates,
            "failed": self.failed,
            "skipped_existing": c.skipped_existing,
            "previously_rejected": c.previously_rejected,
            "sidecars_imported": c.sidecars_imported,
            "ignored_non_images": self.ignored_non_images,
            "skipped_links": self.skipped_links,
            "seconds": round(self.seconds, 3),
            "images_per_second": round(self.files_seen / self.seconds, 1) if self.seconds else 0.0,
            "cancelled": self.cancelled,
        }


@dataclass
class ProcessReport:
    project: str
    resolution: int
    processed: int = 0
    already_present: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 3)}


@dataclass
class QualityReport:
    project: str
    measured: int = 0
    already_measured: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 3)}


def _pool_context() -> Any:
    """Workers must start fast: importing the decoder stack costs seconds on a busy machine.

    A single-threaded process (the CLI) forks, so workers inherit what is already imported. Forking
    a process with other threads (the GUI) is unsafe, so there a forkserver is used, preloaded once
    per process; elsewhere (Windows, macOS) spawn.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["lorairo.registration.decode"])
        return context
    return multiprocessing.get_context("spawn")


def _write_journal(run_dir: Path, entries: dict[str, list[str]]) -> None:
    tmp = run_dir / (JOURNAL + ".tmp")
    tmp.write_text(json.dumps(entries), encoding="utf-8")
    tmp.replace(run_dir / JOURNAL)


class RegisteredDigests:
    """The decode workers' injected 'already registered?' check. It carries only the database
    path across the fork (or pickle), and opens one read-only handle per worker on first use: a
    point lookup per file keeps memory flat at any project size, where a copied set of every
    digest would cost each worker megabytes per 100k images."""

    def __init__(self, database_path: str) -> None:
        self.database_path = database_path
        self._database: Database | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"database_path": self.database_path, "_database": None}

    def __call__(self, sha256: str) -> bool:
        if self._database is None:
            self._database = Database(self.database_path, migrate=False)
        with self._database.read_session() as session:
            return ImageRepository().sha256_registered(session, sha256)


class RegistrationService:
    """Register images and generate processed copies for one open project (UI-free)."""

    def __init__(self, project: Project, config: ConfigurationService) -> None:
        self.project = project
        self.config = config
        self.repository = ImageRepository()
        self.settings = config.config.image_processing
        self.batch_size = config.config.resources.batch_size
        self.workers = max(1, config.max_workers)
        self.tags = TagService(config)

    def _pages(self, page: Callable[[Session, int], list[ProcessingTask]]) -> Iterator[ProcessingTask]:
        """A backfill's tasks, keyset-paged by image id, one short read transaction per page:
        the job commits a write batch between pages, and never holds one snapshot throughout."""
        after = 0
        while True:
            with self.project.database.read_session() as session:
                tasks = page(session, after)
            if not tasks:
                return
            yield from tasks
            after = tasks[-1].image_id

    # -- queries for the shells ------------------------------------------------------------------

    def image_count(self) -> int:
        with self.project.database.read_session() as session:
            return self.repository.count_images(session)

    def rejections(self, limit: int) -> tuple[int, list[RegistrationFailureRow]]:
        """The total number of rejected files and the newest `limit` of them."""
        with self.project.database.read_session() as session:
            return self.repository.count_failures(session), self.repository.list_failures(session, limit)

    def near_duplicate_groups(self) -> list[dict[str, Any]]:
        """Near-duplicate groups (images linked by pHash distance at registration), each with its
        images' summaries and the links that joined them."""
        with self.project.database.read_session() as session:
            links = list(self.repository.iter_similarities(session))
            groups = group_links((a, b) for a, b, _ in links)
            summaries = self.repository.image_summaries(
                session, (image_id for group in groups for image_id in group)
            )
        group_of = {image_id: number for number, group in enumerate(groups) for image_id in group}
        links_of: list[list[dict[str, int]]] = [[] for _ in groups]
        for image_id, similar_to_id, distance in links:
            links_of[group_of[image_id]].append(
                {"image_id": image_id, "similar_to_id": similar_to_id, "distance": distance}
            )
        return [
            {
                "images": [summaries[image_id].to_dict() for image_id in group if image_id in summaries],
                "links": links_of[number],
            }
            for number, group in enumerate(groups)
        ]

    # -- pool and staging --------------------------------------------------------------------

    def _make_pool(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_pool_context(),
            initializer=init_worker,
            initargs=(RegisteredDigests(self.project.database.location),),
        )

    @property
    def _staging_root(self) -> Path:
        return self.project.file_path(layout.STAGING)

    def _discard_run(self, run_dir: Path) -> None:
        """Delete a run's staging folder and any journalled file whose image never committed."""
        journal = run_dir / JOURNAL
        if journal.is_file():
            try:
                entries: dict[str, list[str]] = json.loads(journal.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                entries = {}
            with self.project.database.read_session() as session:
                committed = self.repository.registered_shas(session, entries)
            for sha, paths in entries.items():
                if sha not in committed:
                    for relative in paths:
                        self.project.file_path(relative).unlink(missing_ok=True)
        shutil.rmtree(run_dir, ignore_errors=True)

    def recover_interrupted_runs(self) -> int:
        """Clean up after runs whose process is gone (killed, crashed, power cut)."""
        if not self._staging_root.is_dir():
            return 0
        recovered = 0
        for run_dir in self._staging_root.iterdir():
            pid_text = run_dir.name.split("-", 1)[0]
            pid = int(pid_text) if pid_text.isdigit() else 0
            if pid and pid != os.getpid() and psutil.pid_exists(pid):
                continue  # another live run (the GUI and the CLI may share a project)
            self._discard_run(run_dir)
            recovered += 1
        return recovered

    # -- registration --------------------------------------------------------------------------

    def register(
        self,
        paths: Sequence[Path],
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        *,
        on_batch_committed: Callable[[BatchCommitted], None] | None = None,
        follow_links: bool = False,
    ) -> RegistrationReport:
        """Register every image under `paths`. Returns normally after a cancel, with
        `cancelled` set and everything decided so far committed. Folder links leading outside
        `paths` are skipped unless `follow_links`; the project's own folder is never scanned."""
        cancel = cancel or CancelToken()
        roots = [Path(path).expanduser() for path in paths]
        if not roots:
            raise ValidationError("give at least one file or folder to register")
        missing = [str(path) for path in roots if not path.exists()]
        if missing:
            raise ValidationError(f"no such file or folder: {', '.join(missing)}")
        roots = [path.resolve() for path in roots]
        own = self.project.root.resolve()
        inside = [str(path) for path in roots if path.is_relative_to(own)]
        if inside:
            raise ValidationError(
                f"inside the project's own data folder, not registered: {', '.join(inside)}"
            )
        started = time.monotonic()
        report = RegistrationReport(project=self.project.name)
        self.recover_interrupted_runs()
        progress(0, None, "scanning")
        with self.project.database.read_session() as session:
            standing = self.repository.standing_rejections(session, INTERNAL_ERROR)

        def candidates(stats: ScanStats | None = None) -> Iterator[Path]:
            """The scan, less files an earlier run rejected for a real reason and unchanged since
            (a re-run rejects nothing new; an `internal error` is always retried)."""
            for path in scan(roots, stats, excluded=[own], follow_links=follow_links):
                rejected_at = standing.get(str(path))
                if rejected_at is not None and not _changed_since(path, rejected_at):
                    if stats is not None:
                        report.counts.previously_rejected += 1
                    continue
                yield path

        total = sum(1 for _ in candidates())
        progress(0, total, "loading project hashes")
        index = HammingIndex(self.settings.near_duplicate_threshold)
        with self.project.database.read_session() as session:  # one snapshot, streamed
            index.extend(self.repository.iter_phashes(session))
        run_dir = self._staging_root / f"{os.getpid()}-{secrets.token_hex(4)}"
        run_dir.mkdir(parents=True)
        decode_settings = DecodeSettings(
            staging_dir=str(run_dir),
            resolutions=tuple(sorted(set(self.settings.target_resolutions))),
            upscale=self.settings.upscale,
            thumbnail_size=self.settings.thumbnail_size,
            max_bytes=int(self.settings.max_file_size_mb * 1024 * 1024),
            max_pixels=self.settings.max_pixels,
        )
        stats = ScanStats()
        batch: list[DecodeOutcome] = []
        done = 0

        def commit() -> None:
            ids = self._commit_batch(batch, run_dir, index, report)
            batch.clear()
            if on_batch_committed is not None:
                on_batch_committed(BatchCommitted(ids, replace(report.counts)))

        try:
            outcomes = ordered_map(
                self._make_pool,
                self.workers,
                lambda pool, path: pool.submit(decode_file, str(path), decode_settings),
                candidates(stats),
                lambda: cancel.cancelled,
            )
            for path, outcome in outcomes:
                batch.append(
                    outcome
                    if outcome is not None
                    else Rejected(str(path), DECODER_CRASHED, "the decoder process died on this file")
                )
                done += 1
                if len(batch) >= self.batch_size:
                    commit()
                progress(done, total, report.counts.summary())
            if batch:
                commit()
        finally:
            self._discard_run(run_dir)
        report.cancelled = cancel.cancelled
        report.ignored_non_images = stats.ignored_non_images
        report.skipped_links = stats.skipped_links
        report.failed.extend(
            {"path": folder, "reason": UNREADABLE_FOLDER, "message": error}
            for folder, error in stats.unreadable_folders
        )
        report.counts.failed += len(stats.unreadable_folders)
        report.seconds = time.monotonic() - started
        progress(done, done if report.cancelled else total, report.counts.summary())
        return report

    def _place_files(self, new: list[Decoded], run_dir: Path) -> None:
        """Journal, then move staged files to their final content-addressed paths."""
        moves: dict[str, list[tuple[str, str]]] = {}
        for item in new:
            pairs = [(item.staged_original, layout.original_path(item.sha256, item.format))]
            pairs.append((item.staged_thumbnail, layout.thumbnail_path(item.sha256)))
            pairs.extend(
                (copy.staged, layout.processed_path(item.sha256, item.format, copy.resolution))
                for copy in item.processed
            )
            moves[item.sha256] = pairs
        _write_journal(run_dir, {sha: [final for _, final in pairs] for sha, pairs in moves.items()})
        for pairs in moves.values():
            for staged, final in pairs:
                target = self.project.file_path(final)
                target.parent.mkdir(parents=True, exist_ok=True)
                Path(staged).replace(target)

    def _commit_batch(
        self, batch: list[DecodeOutcome], run_dir: Path, index: HammingIndex, report: RegistrationReport
    ) -> list[int]:
        """Execute the batch's plan in one transaction: place files, insert rows, import sidecars,
        replace the batch's rejections."""
        with self.project.database.write_session() as session:
            found = self.repository.find_by_sha(
                session, [item.sha256 for item in batch if not isinstance(item, Rejected)]
            )
            plan = plan_batch(batch, {sha: path for sha, (_, path) in found.items()})
            self._place_files(plan.new, run_dir)
            ids = self.repository.insert_images(session, [self._image_row(item) for item in plan.new])
            id_by_sha = {sha: image_id for sha, (image_id, _) in found.items()}
            id_by_sha.update((item.sha256, image_id) for item, image_id in zip(plan.new, ids, strict=True))
            self._link_near_duplicates(session, plan.new, ids, index, report)
            self.repository.upsert_quality(
                session,
                [
                    _quality_row(image_id, item.quality)
                    for item, image_id in zip(plan.new, ids, strict=True)
                    if item.quality is not None
                ],
            )
            self.repository.upsert_processed(
                session,
                [
                    {
                        "image_id": image_id,
                        "resolution": copy.resolution,
                        "path": layout.processed_path(item.sha256, item.format, copy.resolution),
                        "width": copy.width,
                        "height": copy.height,
                    }
                    for item, image_id in zip(plan.new, ids, strict=True)
                    for copy in item.processed
                ],
            )
            preferred = (
                self.tags.resolve_aliases(tag for _, sidecar in plan.merges for tag in sidecar.tags)
                if self.tags.available()
                else None
            )
            for sha, sidecar in plan.merges:
                if self._save_sidecar(session, id_by_sha[sha], sidecar, preferred):
                    report.counts.sidecars_imported += 1
            self.repository.replace_failures(
                session, plan.seen_paths, [(item.path, item.reason, item.message) for item in plan.failures]
            )
        (run_dir / JOURNAL).unlink(missing_ok=True)
        for item in plan.unused:
            self._drop_staged(item)
        self._count(plan, id_by_sha, report)
        return ids

    def _save_sidecar(
        self, session: Session, image_id: int, sidecar: Sidecar, preferred: Mapping[str, str] | None
    ) -> bool:
        """Store what `sidecar_writes` decides for `image_id`; returns whether anything was added."""
        if sidecar.empty:
            return False
        present = self.repository.existing_sidecar_tags(session, image_id) if sidecar.tags else set()
        caption_present = bool(sidecar.caption) and self.repository.has_sidecar_caption(
            session, image_id, sidecar.caption or ""
        )
        write = sidecar_writes(sidecar, present, caption_present, preferred)
        if write.tags:
            self.repository.insert_sidecar_tags(session, image_id, write.tags, first_position=len(present))
        if write.caption:
            self.repository.insert_sidecar_caption(session, image_id, write.caption)
        return not write.empty

    @staticmethod
    def _count(plan: BatchPlan, id_by_sha: dict[str, int], report: RegistrationReport) -> None:
        counts = report.counts
        counts.registered += len(plan.new)
        counts.skipped_existing += plan.skipped_existing
        counts.duplicates += len(plan.duplicates)
        counts.failed += len(plan.failures)
        report.duplicates.extend(
            {
                "path": dup.path,
                "duplicate_of": id_by_sha[dup.sha256],
                "duplicate_of_path": dup.duplicate_of_path,
            }
            for dup in plan.duplicates
        )
        report.failed.extend(
            {"path": item.path, "reason": item.reason, "message": item.message} for item in plan.failures
        )

    @staticmethod
    def _drop_staged(item: Decoded) -> None:
        for staged in (item.staged_original, item.staged_thumbnail, *(c.staged for c in item.processed)):
            Path(staged).unlink(missing_ok=True)

    @staticmethod
    def _image_row(item: Decoded) -> dict[str, Any]:
        return {
            "file_path": item.path,
            "stored_path": layout.original_path(item.sha256, item.format),
            "name": Path(item.path).name,
            "file_size": item.file_size,
            "width": item.width,
            "height": item.height,
            "format": item.format,
            "mode": item.mode,
            "has_alpha": item.has_alpha,
            "sha256": item.sha256,
            "phash": item.phash,
            "thumbnail_path": layout.thumbnail_path(item.sha256),
        }

    def _link_near_duplicates(
        self,
        session: Session,
        new: list[Decoded],
        ids: list[int],
        index: HammingIndex,
        report: RegistrationReport,
    ) -> None:
        """Link each new image to what it resembles, in order, so later images in the same batch
        also match earlier ones."""
        found: list[tuple[Decoded, int, list[tuple[int, int]]]] = []
        for item, image_id in zip(new, ids, strict=True):
            matches = [(match.image_id, match.distance) for match in index.query(item.phash)]
            index.add(image_id, item.phash)
            if matches:
                found.append((item, image_id, matches))
        if not found:
            return
        self.repository.insert_similarities(
            session,
            [(image_id, other, distance) for _, image_id, matches in found for other, distance in matches],
        )
        paths = self.repository.file_paths(
            session, {other for _, _, matches in found for other, _ in matches}
        )
        for item, image_id, matches in found:
            report.counts.near_duplicates += 1
            report.near_duplicates.append(
                {
                    "path": item.path,
                    "image_id": image_id,
                    "similar_to": [
                        {"image_id": other, "path": paths.get(other, ""), "distance": distance}
                        for other, distance in matches
                    ],
                }
            )

    # -- processed copies ----------------------------------------------------------------------

    def process(
        self,
        resolution: int,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        *,
        force: bool = False,
    ) -> ProcessReport:
        """Create the processed copy at `resolution` for every image lacking one (all with `force`)."""
        if resolution < 64 or resolution % 64:
            raise ValidationError(f"resolution must be a multiple of 64 and at least 64, got {resolution}")
        cancel = cancel or CancelToken()
        started = time.monotonic()
        report = ProcessReport(project=self.project.name, resolution=resolution)
        with self.project.database.read_session() as session:
            total = self.repository.count_for_processing(session, resolution, force=force)
            report.already_present = self.repository.count_images(session) - total
        tasks = self._pages(
            lambda session, after: self.repository.for_processing_after(
                session, after, resolution, force=force, page_size=self.batch_size
            )
        )
        project = self.project
        upscale, max_pixels = self.settings.upscale, self.settings.max_pixels
        rows: list[dict[str, Any]] = []

        def flush() -> None:
            with self.project.database.write_session() as session:
                self.repository.upsert_processed(session, rows)
            report.processed += len(rows)
            rows.clear()

        results = ordered_map(
            self._make_pool,
            self.workers,
            lambda pool, task: pool.submit(
                render_stored,
                str(project.file_path(task.stored_path)),
                str(project.file_path(layout.processed_path(task.sha256, task.format, resolution))),
                resolution,
                upscale,
                max_pixels,
            ),
            tasks,
            lambda: cancel.cancelled,
        )
        for done, (task, result) in enumerate(results, start=1):
            if isinstance(result, ProcessedCopy):
                rows.append(
                    {
                        "image_id": task.image_id,
                        "resolution": resolution,
                        "path": layout.processed_path(task.sha256, task.format, resolution),
                        "width": result.width,
                        "height": result.height,
                    }
                )
            else:
                reason, message = (
                    (result.reason, result.message)
                    if result is not None
                    else (DECODER_CRASHED, "the decoder process died on this file")
                )
                report.failed.append(
                    {
                        "image_id": task.image_id,
                        "path": task.stored_path,
                        "reason": reason,
                        "message": message,
                    }
                )
            if len(rows) >= self.batch_size:
                flush()
            progress(done, total, f"{report.processed + len(rows)} processed")
        if rows:
            flush()
        report.cancelled = cancel.cancelled
        report.seconds = time.monotonic() - started
        return report

    # -- quality measures ----------------------------------------------------------------------

    def measure_quality(
        self,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        *,
        recompute: bool = False,
    ) -> QualityReport:
        """Measure every image without current quality measures (registered before they existed,
        or whose measuring failed). Resumable: each batch commits, and a re-run continues with what
        is left; `recompute` first marks every stored measure stale, then does the same. A file
        that cannot be read is reported and skipped; the run goes on."""
        cancel = cancel or CancelToken()
        started = time.monotonic()
        report = QualityReport(project=self.project.name)
        if recompute:
            with self.project.database.write_session() as session:
                self.repository.mark_quality_stale(session)
        with self.project.database.read_session() as session:
            total = self.repository.count_needing_quality(session, QUALITY_VERSION)
            report.already_measured = self.repository.count_images(session) - total
        tasks = self._pages(
            lambda session, after: self.repository.needing_quality_after(
                session, after, QUALITY_VERSION, page_size=self.batch_size
            )
        )
        root = self.project.root
        thumbnail_size, max_pixels = self.settings.thumbnail_size, self.settings.max_pixels
        rows: list[dict[str, Any]] = []

        def flush() -> None:
            with self.project.database.write_session() as session:
                self.repository.upsert_quality(session, rows)
            report.measured += len(rows)
            rows.clear()

        results = ordered_map(
            self._make_pool,
            self.workers,
            lambda pool, task: pool.submit(
                measure_stored, str(root / task.stored_path), thumbnail_size, max_pixels
            ),
            tasks,
            lambda: cancel.cancelled,
        )
        for done, (task, result) in enumerate(results, start=1):
            if isinstance(result, Quality):
                rows.append(_quality_row(task.image_id, result))
            else:
                reason, message = (
                    (result.reason, result.message)
                    if result is not None
                    else (DECODER_CRASHED, "the decoder process died on this file")
                )
                report.failed.append(
                    {
                        "image_id": task.image_id,
                        "path": task.stored_path,
                        "reason": reason,
                        "message": message,
                    }
                )
            if len(rows) >= self.batch_size:
                flush()
            progress(done, total, f"{report.measured + len(rows)} measured")
        if rows:
            flush()
        report.cancelled = cancel.cancelled
        report.seconds = time.monotonic() - started
        return report


def _quality_row(image_id: int, quality: Quality) -> dict[str, Any]:
    return {"image_id": image_id, "version": QUALITY_VERSION, **quality.to_dict()}


def _changed_since(path: Path, moment: datetime) -> bool:
    """Whether the file was modified after `moment` (naive UTC, as the database stores it)."""
    try:
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
    except OSError:
        return True  # let the decoder report what is wrong with it now
    return modified > moment
