"""Batch runs (OpenAI Batch API, Anthropic Message Batches, Gemini batch mode): submit the images a
model still lacks, poll, download, import.

Requests are written to a JSONL file under `[directories] batch_results_dir` (streamed, page by
page) before anything is uploaded, so a failed upload can be inspected and nothing is half-sent.
Results are matched back by the stable custom id (image id + content hash), and an import skips
what is already stored, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from loguru import logger
from PIL import Image

from image_annotator_lib.core.types import AnnotationResult
from image_annotator_lib.exceptions import ProviderAuthenticationError, ProviderRequestError
from image_annotator_lib.providers import batch_api, cloud_batches
from image_annotator_lib.providers.image_encoding import EncodedImage, encode_image
from image_annotator_lib.providers.prompt import PromptOptions, build_prompt
from image_annotator_lib.providers.settings import ProviderSettings
from image_annotator_lib.registry import ModelRegistry
from lorairo.annotations.ai_annotator import build_registry
from lorairo.annotations.provider_settings import resolve_provider_model
from lorairo.database.batch_repository import BatchJobRow, BatchRepository
from lorairo.errors import AIProviderError, AuthenticationError, ValidationError
from lorairo.services.annotation_store import AnnotationStore
from lorairo.services.choices import MAX_REQUESTS
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.progress import CancelToken, ProgressCallback, no_progress
from lorairo.services.project_service import Project

IMPORT_CHUNK = 100


@dataclass
class BatchSubmitReport:
    project: str
    model: str
    requests: int = 0
    unreadable: int = 0
    violations_skipped: int = 0
    request_file: str | None = None
    job: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchImportReport:
    file: str
    model: str
    lines: int = 0
    annotated: int = 0
    failures: int = 0
    policy_violations: int = 0
    already_stored: int = 0
    unmatched: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchStatusReport:
    jobs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Target:
    model_name: str
    settings: ProviderSettings
    model: str
    prompt: PromptOptions


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_")


class BatchAnnotationService:
    def __init__(
        self, project: Project, config: ConfigurationService, registry: ModelRegistry | None = None
    ) -> None:
        self.project = project
        self.config = config
        self.registry = registry or build_registry(config)
        self.annotations = AnnotationStore(project.database)
        self.jobs = BatchRepository()

    @property
    def results_dir(self) -> Path:
        return self.config.batch_results_dir

    def _target(self, model_name: str) -> _Target:
        spec = resolve_provider_model(self.registry, self.config, model_name)
        if spec is None:
            raise ValidationError(
                f"{model_name!r} is not an API model; batches take openai/, anthropic/ or google/<model>"
            )
        settings = spec.options["settings"]
        if not isinstance(settings, ProviderSettings) or settings.kind not in cloud_batches.BATCH_KINDS:
            raise ValidationError(
                f"batches are offered by OpenAI, Anthropic and Google; {model_name!r} is none of them"
            )
        return _Target(model_name, settings, str(spec.options["model"]), spec.options["prompt"])

    def _client(self, target: _Target) -> cloud_batches.BatchClient:
        try:
            return cloud_batches.batch_client(target.settings, target.model)
        except ProviderAuthenticationError as exc:
            raise AuthenticationError(str(exc)) from exc

    @staticmethod
    def _remote(call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except ProviderAuthenticationError as exc:
            raise AuthenticationError(str(exc)) from exc
        except ProviderRequestError as exc:
            raise AIProviderError(str(exc)) from exc

    # -- submit --------------------------------------------------------------------------------

    def submit(
        self,
        model_name: str,
        selection: Literal["missing"] | Sequence[int] = "missing",
        *,
        limit: int = MAX_REQUESTS,
        retry_violations: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> BatchSubmitReport:
        """Write the request file for images the model lacks (or `selection` ids), upload, create."""
        if not 1 <= limit <= MAX_REQUESTS:
            raise ValidationError(f"limit must be between 1 and {MAX_REQUESTS}, got {limit}")
        target = self._target(model_name)
        cancel = cancel or CancelToken()
        report = BatchSubmitReport(self.project.name, model_name)
        client = self._client(target)
        model_id = self.annotations.ensure_model(model_name, provider=target.settings.name, kind="vlm")
        mode: Literal["missing", "ids"] = "missing" if isinstance(selection, str) else "ids"
        ids = [] if isinstance(selection, str) else [int(i) for i in selection]
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        path = self.results_dir / f"{_slug(self.project.name)}-{_slug(model_name)}-{stamp}-requests.jsonl"
        total = min(limit, self.annotations.count_selection(model_id, mode, ids))
        items = self._requests(model_id, mode, ids, limit, retry_violations, report, progress, total, cancel)
        prompt = build_prompt(target.prompt)
        count = cloud_batches.write_requests(target.settings, path, items, model=target.model, prompt=prompt)
        if count == 0:
            path.unlink(missing_ok=True)
            client.close()
            return report
        report.requests, report.request_file = count, str(path)
        try:
            info = self._remote(
                client.submit, path, metadata={"project": self.project.name, "model": model_name}
            )
        finally:
            client.close()
        with self.project.database.write_session() as session:
            job = self.jobs.create_job(
                session,
                provider=target.settings.name,
                model_name=model_name,
                remote_id=info.remote_id,
                request_file=str(path),
                request_count=count,
                status=info.status,
            )
        report.job = job.to_dict()
        return report

    def _requests(
        self,
        model_id: int,
        mode: Literal["missing", "ids"],
        ids: list[int],
        limit: int,
        retry_violations: bool,
        report: BatchSubmitReport,
        progress: ProgressCallback,
        total: int,
        cancel: CancelToken,
    ) -> Iterator[tuple[str, EncodedImage]]:
        """Stream `(custom id, encoded image)` page by page; unreadable files are counted, not sent."""
        written = 0
        for page in self.annotations.iter_selection(model_id, mode, ids, page_size=IMPORT_CHUNK):
            cancel.raise_if_cancelled()
            refused = (
                set()
                if retry_violations
                else self.annotations.check_policy_violations([r.id for r in page], report.model)
            )
            report.violations_skipped += len(refused)
            with self.project.database.read_session() as session:
                hashes = self.jobs.sha256_by_id(session, [r.id for r in page])
            for ref in page:
                if ref.id in refused:
                    continue
                if written >= limit:
                    return
                try:
                    with Image.open(self.project.file_path(ref.path)) as image:
                        encoded = encode_image(image)
                except (OSError, ValueError, Image.DecompressionBombError) as exc:
                    logger.warning(f"batch submit: image {ref.id} unreadable ({exc}); left out")
                    report.unreadable += 1
                    continue
                written += 1
                progress(written, total, "writing requests")
                yield batch_api.custom_id(ref.id, hashes[ref.id]), encoded

    # -- status and download -------------------------------------------------------------------

    def status(self, job_id: int | None = None) -> BatchStatusReport:
        """Refresh unfinished jobs (or one job) and download the results of completed ones."""
        if job_id is not None:
            jobs = [self._job(job_id)]
        else:
            with self.project.database.read_session() as session:
                jobs = self.jobs.list_jobs(session, unfinished_only=True)
        report = BatchStatusReport()
        for job in jobs:
            job = self._refresh(job)
            report.jobs.append(job.to_dict())
        return report

    def _job(self, job_id: int) -> BatchJobRow:
        with self.project.database.read_session() as session:
            job = self.jobs.get(session, job_id)
        if job is None:
            raise ValidationError(f"no batch job {job_id} in project {self.project.name!r}")
        return job

    def _refresh(self, job: BatchJobRow) -> BatchJobRow:
        if job.remote_id is None or job.result_file is not None:
            return job
        target = self._target(job.model_name)
        client = self._client(target)
        try:
            info = self._remote(client.status, job.remote_id)
            destination = self.results_dir / f"{_slug(job.remote_id)}-output.jsonl"
            fetched = self._remote(client.fetch_results, info, destination)
            result_file = str(fetched) if fetched is not None else None
        finally:
            client.close()
        values: dict[str, object] = {"status": info.status}
        if result_file is not None:
            values["result_file"] = result_file
        with self.project.database.write_session() as session:
            self.jobs.update_job(session, job.id, **values)
            refreshed = self.jobs.get(session, job.id)
        assert refreshed is not None
        return refreshed

    # -- import --------------------------------------------------------------------------------

    def import_pending(self, progress: ProgressCallback = no_progress) -> list[BatchImportReport]:
        """Import every downloaded, not yet imported job's results (refreshing jobs first)."""
        reports = []
        with self.project.database.read_session() as session:
            pending = self.jobs.list_jobs(session, unfinished_only=True)
        for job in pending:
            job = self._refresh(job)
            if job.result_file:
                reports.append(self.import_file(Path(job.result_file), job.model_name, progress=progress))
        return reports

    def import_file(
        self, path: Path, model_name: str | None = None, progress: ProgressCallback = no_progress
    ) -> BatchImportReport:
        """Store the results in a result JSONL; the model comes from its job unless given."""
        path = path.expanduser().resolve()
        if not path.is_file():
            raise ValidationError(f"no such results file: {path}")
        with self.project.database.read_session() as session:
            job = self.jobs.by_result_file(session, str(path))
        name = model_name or (job.model_name if job else None)
        if name is None:
            raise ValidationError(
                f"{path.name} belongs to no submitted job; name the model with -m openai/<model>"
            )
        target = self._target(name)
        model_id = self.annotations.ensure_model(name, provider=target.settings.name, kind="vlm")
        report = BatchImportReport(str(path), name)
        chunk: list[tuple[str, AnnotationResult]] = []
        for item in cloud_batches.read_results(path, target.settings.kind, name, target.prompt):
            report.lines += 1
            chunk.append((item.custom_id, item.result))
            if len(chunk) >= IMPORT_CHUNK:
                self._store(chunk, model_id, target, report)
                chunk = []
                progress(report.lines, None, "importing")
        self._store(chunk, model_id, target, report)
        progress(report.lines, report.lines, "imported")
        if job is not None and job.imported_at is None:
            with self.project.database.write_session() as session:
                self.jobs.mark_imported(session, job.id)
        return report

    def _store(
        self,
        chunk: list[tuple[str, AnnotationResult]],
        model_id: int,
        target: _Target,
        report: BatchImportReport,
    ) -> None:
        matched: list[tuple[int, str, AnnotationResult]] = []
        for request_id, result in chunk:
            parsed = batch_api.parse_custom_id(request_id)
            if parsed is None:
                report.unmatched += 1
                continue
            matched.append((parsed[0], parsed[1], result))
        with self.project.database.read_session() as session:
            hashes = self.jobs.sha256_by_id(session, [image_id for image_id, _, _ in matched])
            annotated, failed = self.jobs.already_recorded(session, list(hashes), model_id, target.model_name)
        fresh: list[tuple[int, AnnotationResult]] = []
        for image_id, prefix, result in matched:
            if not hashes.get(image_id, "").startswith(prefix):
                report.unmatched += 1  # deleted, or the id now names another file
            elif image_id in annotated or (result.failure and (image_id, result.failure.kind) in failed):
                report.already_stored += 1
            else:
                fresh.append((image_id, result))
                report.input_tokens += result.usage.input_tokens
                report.output_tokens += result.usage.output_tokens
        if fresh:
            counts = self.annotations.save_results(model_id, target.model_name, target.settings.name, fresh)
            report.annotated += counts.annotated
            report.failures += counts.failures
            report.policy_violations += counts.policy_violations
