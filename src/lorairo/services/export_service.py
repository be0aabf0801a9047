"""Export a project (or a selection) as a training set; the CLI and the GUI export dialog call this.

Images are streamed a batch of ids at a time, each format writer appends as images arrive, and
everything lands in a staging folder that replaces the target only once complete.
"""

from __future__ import annotations

import io
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

import lorairo
from genai_tag_db_tools.cleaning import lookup_key
from lorairo.database import export_repository as repo
from lorairo.database.crop_repository import load_crops
from lorairo.database.image_repository import ImageRepository
from lorairo.errors import ImageProcessingError, ValidationError
from lorairo.export.ai_toolkit import AiToolkitWriter
from lorairo.export.concepts import Concept, join
from lorairo.export.crop import CropBox
from lorairo.export.dataset_toml import DatasetTomlWriter, check_dataset_toml
from lorairo.export.diffusion_pipe import DiffusionPipeWriter
from lorairo.export.hf_imagefolder import HfImagefolderWriter
from lorairo.export.hf_parquet import HfParquetWriter
from lorairo.export.item import ExportItem, FormatWriter
from lorairo.export.kohya_metadata import JsonlWriter, KohyaMetadataWriter
from lorairo.export.lint import Finding, Linter
from lorairo.export.manifest import MANIFEST_NAME
from lorairo.export.naming import NameAllocator
from lorairo.export.onetrainer import OneTrainerWriter
from lorairo.export.options import SIDECAR_FORMATS, ExportOptions
from lorairo.export.safe_images import (
    IMAGE_FORMAT_NAMES,
    accepted_formats,
    is_training_safe,
    render_safe,
    save_options,
)
from lorairo.export.sidecars import SidecarWriter
from lorairo.export.simpletuner import SimpleTunerWriter
from lorairo.export.staging import Staging
from lorairo.export.tag_selection import build_text
from lorairo.export.tokens import TokenCounter
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.progress import CancelToken, ProgressCallback, no_progress
from lorairo.services.project_service import Project
from lorairo.services.search_service import AliasResolver, SearchService
from lorairo.storage.imaging import bucket_size, resize_to_bucket
from lorairo.storage.layout import original_extension, processed_extension
from lorairo.storage.render import Rejected, render_stored
from lorairo.storage.validation import Rejection
from lorairo.utils.chunks import chunked

BATCH = 500
TOP_TAGS = 20
SKIP_EXAMPLES = 20
PROGRESS_EVERY = 50
# Writers of each format's own files; the `<stem>.txt` sidecars are shared (`SidecarWriter`).
_WRITERS: dict[str, Callable[[Staging, ExportOptions], FormatWriter]] = {
    "kohya-json": KohyaMetadataWriter,
    "jsonl": JsonlWriter,
    "hf": HfImagefolderWriter,
    "onetrainer": OneTrainerWriter,
    "ai-toolkit": AiToolkitWriter,
    "simpletuner": SimpleTunerWriter,
    "diffusion-pipe": DiffusionPipeWriter,
}


@dataclass
class ExportReport:
    target: Path
    formats: list[str]
    exported: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_examples: dict[str, list[int]] = field(default_factory=dict)
    tags_per_image: dict[str, float] = field(default_factory=dict)
    top_tags: list[tuple[str, int]] = field(default_factory=list)
    files: int = 0
    link_fallbacks: int = 0
    converted: int = 0
    cropped: int = 0
    concepts: dict[str, int] = field(default_factory=dict)
    lint: list[Finding] = field(default_factory=list)
    lint_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def manifest(self) -> Path:
        return self.target / MANIFEST_NAME

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": str(self.target),
            "manifest": str(self.manifest),
            "formats": self.formats,
            "exported": self.exported,
            "skipped": self.skipped,
            "skipped_examples": self.skipped_examples,
            "tags_per_image": self.tags_per_image,
            "top_tags": [{"tag": tag, "count": count} for tag, count in self.top_tags],
            "files": self.files,
            "link_fallbacks": self.link_fallbacks,
            "converted": self.converted,
            "cropped": self.cropped,
            "concepts": self.concepts,
            "lint": [finding.to_dict() for finding in self.lint],
            "lint_counts": self.lint_counts,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class ExportPreview:
    """The sidecar text one image would get: `text` is the training text (`.txt`, or `.caption`
    in caption mode), `caption` the separate `.caption` file written in tags mode."""

    image_id: int
    extension: str
    text: str | None
    caption: str | None
    skip_reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "extension": self.extension,
            "text": self.text,
            "caption": self.caption,
            "skip_reason": self.skip_reason,
        }


def _median(histogram: Counter[int]) -> float:
    total = sum(histogram.values())
    if not total:
        return 0.0
    middle = [(total - 1) // 2, total // 2]
    values: list[int] = []
    seen = 0
    for value in sorted(histogram):
        count = histogram[value]
        values.extend(value for position in middle if seen <= position < seen + count)
        seen += count
    return sum(values) / len(values)


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {code}" for code, count in counts.items())


class _Skip(Exception):
    """An image left out, with a short human reason for the report."""


class ExportService:
    """`resolver` (the tag database's alias resolver) makes queries match the way search does."""

    def __init__(
        self,
        project: Project,
        config: ConfigurationService,
        resolver: AliasResolver | None = None,
        token_counter: TokenCounter | None = None,
    ) -> None:
        self.project = project
        self.config = config
        self.resolver = resolver
        self.token_counter = token_counter

    # -- selection --------------------------------------------------------------------------

    def _selection(self, options: ExportOptions, concept: Concept) -> tuple[Iterable[int], int]:
        if options.ids is not None:
            unique = list(dict.fromkeys(options.ids))
            return unique, len(unique)
        if concept.query:
            search = SearchService(self.project, self.resolver)
            batches = search.iter_ids(concept.query, batch=BATCH)
            return (image_id for batch in batches for image_id in batch), search.count(concept.query)
        with self.project.database.read_session() as session:
            total = ImageRepository().count_images(session)
        return self._all_ids(), total

    def _all_ids(self) -> Iterator[int]:
        """Every image id in id order, one short read transaction per page, so a long export
        never holds a snapshot (or, on SQLite, a WAL checkpoint) open for its whole run."""
        last = 0
        while True:
            with self.project.database.read_session() as session:
                ids = repo.image_ids_after(session, last)
            if not ids:
                return
            yield from ids
            last = ids[-1]

    def model_names(self) -> set[str]:
        """The models that have stored output (for --tags-from and caption sources)."""
        with self.project.database.read_session() as session:
            return repo.model_names(session)

    def count(self, options: ExportOptions) -> int:
        """How many images the options select, summed over concepts (before skips)."""
        return sum(self._selection(options, concept)[1] for concept in options.plan)

    def default_target(self) -> Path:
        return self.config.export_dir / f"{self.project.name}-{datetime.now():%Y%m%d-%H%M%S}"

    def _validate(self, options: ExportOptions) -> None:
        check_dataset_toml(options)
        accepted = accepted_formats(options.formats)
        if options.image_format and IMAGE_FORMAT_NAMES[options.image_format] not in accepted:
            raise ValidationError(
                f"--image-format {options.image_format} is not read by every chosen trainer "
                f"(ai-toolkit takes PNG or JPEG only)"
            )
        known = self.model_names()
        unknown = [name for name in options.tags_from or () if name not in known and name != "existing"]
        if unknown:
            raise ValidationError(
                f"unknown model(s) for --tags-from: {', '.join(unknown)}; known: {', '.join(sorted(known)) or 'none'}"
            )
        if options.caption not in {"manual", "newest", "none"} and options.caption not in known:
            raise ValidationError(
                f"unknown caption source {options.caption!r}: use manual, newest, none or a model"
            )

    def _frequencies(self, options: ExportOptions) -> dict[str, int] | None:
        if options.order != "frequency":
            return None
        folded: Counter[str] = Counter()
        with self.project.database.read_session() as session:
            frequencies = repo.tag_frequencies(session)
        for tag, count in frequencies.items():
            folded[lookup_key(tag)] += count
        return dict(folded)

    # -- preview ----------------------------------------------------------------------------

    def preview(self, image_id: int, options: ExportOptions) -> ExportPreview:
        with self.project.database.read_session() as session:
            records = repo.load_records(session, [image_id], options.resolution)
        if image_id not in records:
            raise ValidationError(f"no image with id {image_id}")
        text = build_text(records[image_id], options, self._frequencies(options))
        return ExportPreview(
            image_id=image_id,
            extension=options.caption_extension,
            text=text.primary_text(options),
            caption=text.caption if options.text_mode == "tags" else None,
            skip_reason=text.skip_reason(options),
        )

    # -- export -----------------------------------------------------------------------------

    def lint(
        self,
        options: ExportOptions,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> list[Finding]:
        """The pre-flight findings of an export, without writing anything."""
        self._validate(options)
        report = ExportReport(target=options.target or Path(), formats=list(options.formats))
        linter = Linter(options, self.token_counter)
        self._write(options, None, self.count(options), report, linter, progress, cancel or CancelToken())
        return linter.finish()

    def export(
        self,
        options: ExportOptions,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        *,
        strict: bool = False,
    ) -> ExportReport:
        """Write the export, linting on the way (findings in the report; with `strict` any finding
        fails the export); on any failure or cancellation the target is left as it was."""
        self._validate(options)
        started = time.perf_counter()
        total = self.count(options)
        staging = Staging(options.target or self.default_target(), overwrite=options.overwrite)
        report = ExportReport(target=staging.target, formats=list(options.formats))
        linter = Linter(options, self.token_counter)
        try:
            self._write(options, staging, total, report, linter, progress, cancel or CancelToken())
            report.lint = linter.finish()
            report.lint_counts = dict(linter.counts)
            if strict and report.lint:
                raise ValidationError(
                    f"--strict: the lint found {_summary(report.lint_counts)}; nothing was written"
                )
            report.files = staging.file_count + 1
            report.link_fallbacks = staging.link_fallbacks
            report.seconds = time.perf_counter() - started
            staging.commit(
                {
                    "version": lorairo.__version__,
                    "created_at": datetime.now().astimezone().isoformat(timespec="seconds"),
                    "project": self.project.name,
                    "query": options.query,
                    "options": options.to_dict(),
                    "counts": {
                        "selected": total,
                        "exported": report.exported,
                        "skipped": report.skipped,
                        "files": report.files,
                    },
                }
            )
        except BaseException:
            staging.abort()
            raise
        return report

    def _write(
        self,
        options: ExportOptions,
        staging: Staging | None,
        total: int,
        report: ExportReport,
        linter: Linter,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> None:
        """One pass over every concept's images: lint each, and with a staging folder write it."""
        writers: list[FormatWriter] = []
        if staging is not None:
            writers = [_WRITERS[fmt](staging, options) for fmt in options.formats if fmt in _WRITERS]
            if set(options.formats) & SIDECAR_FORMATS:
                writers.insert(0, SidecarWriter(staging, options))
            if options.dataset_toml:
                writers.append(DatasetTomlWriter(staging, options))
            if options.hf_parquet:
                writers.append(HfParquetWriter(staging, options))
        frequencies = self._frequencies(options)
        accepted = accepted_formats(options.formats)
        tag_counts: Counter[int] = Counter()
        top: Counter[str] = Counter()
        done = 0
        for concept in options.plan:
            concept_options = options.for_concept(concept)
            folder = options.folder_of(concept)
            if staging is not None:
                (staging.path / folder).mkdir(parents=True, exist_ok=True)
            ids, count = self._selection(options, concept)
            names = NameAllocator(options.naming, count)
            report.concepts[concept.name] = 0
            for chunk in chunked(ids, BATCH):
                with self.project.database.read_session() as session:
                    records = repo.load_records(session, chunk, options.resolution)
                    crops = load_crops(session, chunk) if staging is not None else {}
                for image_id in chunk:
                    cancel.raise_if_cancelled()
                    done += 1
                    record = records.get(image_id)
                    try:
                        if record is None:
                            raise _Skip("not found")
                        if record.export_rejected:
                            raise _Skip("rejected from export")
                        text = build_text(record, concept_options, frequencies)
                        linter.image(concept, concept_options, record, text)
                        reason = text.skip_reason(concept_options)
                        if reason:
                            raise _Skip(reason)
                        if staging is None:
                            continue
                        stem = names.allocate(image_id, record.name)
                        crop = crops.get(image_id)
                        if crop is not None:
                            file_name, width, height = self._write_cropped(
                                record, CropBox(*crop), join(folder, stem), options, staging
                            )
                            report.cropped += 1
                        else:
                            file_name, width, height = self._place_image(
                                record, join(folder, stem), options, staging, accepted, report
                            )
                    except _Skip as skip:
                        reason = str(skip)
                        report.skipped[reason] = report.skipped.get(reason, 0) + 1
                        examples = report.skipped_examples.setdefault(reason, [])
                        if len(examples) < SKIP_EXAMPLES:
                            examples.append(image_id)
                        continue
                    item = ExportItem(
                        image_id,
                        stem,
                        file_name.rsplit("/", 1)[-1],
                        width,
                        height,
                        text,
                        concept,
                        folder,
                        concept_options,
                    )
                    for writer in writers:
                        writer.add(item)
                    report.exported += 1
                    report.concepts[concept.name] += 1
                    tag_counts[len(text.tags)] += 1
                    top.update(text.tags)
                    if done % PROGRESS_EVERY == 0:
                        progress(done, total, f"{report.exported} exported")
        cancel.raise_if_cancelled()
        for writer in writers:
            writer.close()
        progress(done, total, f"{report.exported} exported")
        if tag_counts:
            report.tags_per_image = {
                "min": min(tag_counts),
                "median": _median(tag_counts),
                "max": max(tag_counts),
            }
        report.top_tags = top.most_common(TOP_TAGS)

    def _place_image(
        self,
        record: repo.ImageRecord,
        stem: str,
        options: ExportOptions,
        staging: Staging,
        accepted: frozenset[str],
        report: ExportReport,
    ) -> tuple[str, int, int]:
        """Put the image file into the staging folder under `stem` (a path relative to the export
        root, without extension); returns that path with its extension and the pixel size."""
        if options.resolution is None:
            source = self.project.file_path(record.stored_path)
            if options.image_format is None:
                return self._copy_original(record, source, stem, staging, accepted, options, report)
            return self._write_encoded(source, stem, options.image_format, staging)
        if record.processed is not None:
            source, width, height = (
                self.project.file_path(record.processed.path),
                record.processed.width,
                record.processed.height,
            )
        else:
            source, width, height = self._render_missing(record, stem, options.resolution, staging)
            if options.image_format is None:
                relative = stem + source.suffix
                staging.adopt(relative)
                return relative, width, height
        if options.image_format is not None:
            return self._write_encoded(source, stem, options.image_format, staging)
        relative = stem + (source.suffix.lower() or original_extension(record.format.upper()))
        try:
            staging.add_file(relative, source, link=options.link, digest=None)
        except FileNotFoundError as exc:
            raise _Skip("image file missing") from exc
        return relative, width, height

    def _copy_original(
        self,
        record: repo.ImageRecord,
        source: Path,
        stem: str,
        staging: Staging,
        accepted: frozenset[str],
        options: ExportOptions,
        report: ExportReport,
    ) -> tuple[str, int, int]:
        """Copy (or hard-link) the original when a trainer reads it as the person saw it (or with
        `--keep-originals`), else write a training-safe conversion. The file is read once for both
        the check and the copy."""
        try:
            data = source.read_bytes()
        except FileNotFoundError as exc:
            raise _Skip("image file missing") from exc
        if not options.keep_originals:
            try:
                safe = is_training_safe(data, record.format.upper(), accepted)
            except (OSError, SyntaxError, ValueError, PILImage.DecompressionBombError) as exc:
                raise _Skip("unreadable image") from exc
            if not safe:
                report.converted += 1
                return self._write_safe(source, stem, staging)
        relative = stem + (source.suffix.lower() or original_extension(record.format.upper()))
        if options.link:
            staging.add_file(relative, source, link=True, digest=record.sha256)
        else:
            staging.write_bytes(relative, data, digest=record.sha256)
        return relative, record.width, record.height

    @staticmethod
    def _decode(source: Path, fmt: str | None) -> tuple[PILImage.Image, str]:
        """Upright, flattened 8-bit RGB pixels and the extension to save them under."""
        try:
            image, extension = render_safe(source)
            return image, extension if fmt is None else f".{fmt}"
        except FileNotFoundError as exc:
            raise _Skip("image file missing") from exc
        except Rejection as rejection:
            raise _Skip(f"unreadable image: {rejection.reason}") from rejection
        except (OSError, SyntaxError, ValueError, PILImage.DecompressionBombError) as exc:
            raise ImageProcessingError(f"cannot read {source}: {exc}") from exc

    def _write_cropped(
        self, record: repo.ImageRecord, crop: CropBox, stem: str, options: ExportOptions, staging: Staging
    ) -> tuple[str, int, int]:
        """Crop the upright original, then resize to the bucket when a resolution is chosen: the
        person's crop always applies, so this image is rendered even with --keep-originals/--link."""
        image, extension = self._decode(self.project.file_path(record.stored_path), options.image_format)
        if not crop.fits(*image.size):
            raise _Skip("crop outside the image")
        image = crop.apply(image)
        if options.resolution is not None:
            upscale = self.config.config.image_processing.upscale
            image = resize_to_bucket(image, bucket_size(*image.size, options.resolution, upscale=upscale))
        buffer = io.BytesIO()
        if options.image_format is not None:
            image.save(buffer, format=IMAGE_FORMAT_NAMES[options.image_format], quality=95)
        else:
            image.save(buffer, **save_options(extension))  # type: ignore[arg-type]
        staging.write_bytes(stem + extension, buffer.getvalue())
        return stem + extension, image.width, image.height

    def _write_safe(self, source: Path, stem: str, staging: Staging) -> tuple[str, int, int]:
        image, extension = self._decode(source, None)
        buffer = io.BytesIO()
        image.save(buffer, **save_options(extension))  # type: ignore[arg-type]
        staging.write_bytes(stem + extension, buffer.getvalue())
        return stem + extension, image.width, image.height

    def _render_missing(
        self, record: repo.ImageRecord, stem: str, resolution: int, staging: Staging
    ) -> tuple[Path, int, int]:
        """No processed copy yet: render one into the staging folder with registration's own code,
        so it has exactly the pixels `images process` would have produced."""
        original = self.project.file_path(record.stored_path)
        if not original.is_file():
            raise _Skip("image file missing")
        settings = self.config.config.image_processing
        target = staging.path / (stem + processed_extension(record.format.upper()))
        outcome = render_stored(str(original), str(target), resolution, settings.upscale, settings.max_pixels)
        if isinstance(outcome, Rejected):
            raise _Skip(f"cannot resize: {outcome.reason}")
        return target, outcome.width, outcome.height

    def _write_encoded(self, source: Path, stem: str, fmt: str, staging: Staging) -> tuple[str, int, int]:
        """Re-encode into the requested format: upright and flattened like every exported image."""
        image, extension = self._decode(source, fmt)
        buffer = io.BytesIO()
        image.save(buffer, format=IMAGE_FORMAT_NAMES[fmt], quality=95)
        if source.is_relative_to(staging.path):
            source.unlink()
        staging.write_bytes(stem + extension, buffer.getvalue())
        return stem + extension, image.width, image.height
