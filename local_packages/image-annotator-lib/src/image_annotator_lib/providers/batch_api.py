"""The OpenAI Batch API: half the price for results within 24 hours.

Requests are written as JSONL with a stable `custom_id` per image (so results can be matched back
however the service orders them, and importing the same file twice is recognisable), uploaded,
and submitted; results are downloaded as JSONL and parsed with the live provider's own parser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from image_annotator_lib.core.types import (
    AnnotationFailure,
    AnnotationResult,
    FailureKind,
    TagPrediction,
    UsageStats,
)
from image_annotator_lib.exceptions import ProviderAuthenticationError, ProviderRequestError
from image_annotator_lib.providers.base import Reply
from image_annotator_lib.providers.image_encoding import EncodedImage
from image_annotator_lib.providers.openai_provider import (
    chat_request_body,
    classify_openai_error,
    make_openai_client,
    reply_from_completion,
)
from image_annotator_lib.providers.parsing import MalformedOutputError, parse_annotation
from image_annotator_lib.providers.prompt import Prompt, PromptOptions
from image_annotator_lib.providers.retry import classify_status
from image_annotator_lib.providers.settings import ProviderSettings

ENDPOINT = "/v1/chat/completions"
COMPLETION_WINDOW = "24h"
_CUSTOM_ID = re.compile(r"^img-(\d+)-([0-9a-f]{16})$")
FINAL_STATES = frozenset({"completed", "failed", "expired", "cancelled"})


def custom_id(image_id: int, sha256: str) -> str:
    """Stable per image: the row id plus a content prefix, so a reused id cannot match the wrong file."""
    return f"img-{image_id}-{sha256[:16].lower()}"


def parse_custom_id(value: str) -> tuple[int, str] | None:
    """`(image_id, sha256 prefix)`, or None for an id we did not write."""
    match = _CUSTOM_ID.match(value)
    return (int(match.group(1)), match.group(2)) if match else None


def write_requests(
    path: Path,
    items: Iterable[tuple[str, EncodedImage]],
    *,
    model: str,
    prompt: Prompt,
    structured: bool = True,
) -> int:
    """Stream one request line per `(custom_id, image)` to `path`; return how many were written."""
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for request_id, image in items:
            line = {
                "custom_id": request_id,
                "method": "POST",
                "url": ENDPOINT,
                "body": chat_request_body(model, prompt, image, structured=structured),
            }
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            count += 1
    return count


@dataclass(frozen=True)
class BatchInfo:
    remote_id: str
    status: str
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATES


def _info(batch: Any) -> BatchInfo:
    counts = batch.request_counts.model_dump() if batch.request_counts is not None else {}
    return BatchInfo(
        remote_id=batch.id,
        status=batch.status,
        output_file_id=batch.output_file_id,
        error_file_id=batch.error_file_id,
        counts={k: int(v) for k, v in counts.items() if isinstance(v, int)},
    )


class OpenAIBatchClient:
    """Upload, create, poll and download; errors become one clear library exception."""

    def __init__(self, settings: ProviderSettings) -> None:
        if settings.kind == "openai" and not settings.api_key:
            raise ProviderAuthenticationError(f"provider {settings.name!r} has no API key configured")
        self.settings = settings
        self._client = make_openai_client(settings)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            error = classify_openai_error(exc)
            if error is None:
                raise
            message = self.settings.scrub(f"{self.settings.name}: {what} failed: {error.message}")
            if error.kind == "auth":
                raise ProviderAuthenticationError(
                    f"{self.settings.name}: authentication failed ({error.status}); "
                    f"check the API key configured for provider {self.settings.name!r}"
                ) from None
            raise ProviderRequestError(message) from None

    def submit(self, request_file: Path, *, metadata: dict[str, str] | None = None) -> BatchInfo:
        uploaded = self._call("upload", self._client.files.create, file=request_file, purpose="batch")
        batch = self._call(
            "batch creation",
            self._client.batches.create,
            input_file_id=uploaded.id,
            endpoint=ENDPOINT,
            completion_window=COMPLETION_WINDOW,
            metadata=metadata or {},
        )
        return _info(batch)

    def status(self, remote_id: str) -> BatchInfo:
        return _info(self._call("status", self._client.batches.retrieve, remote_id))

    def fetch_results(self, info: BatchInfo, destination: Path) -> Path | None:
        """The output file of a completed batch, or None while there is none."""
        if info.status != "completed" or not info.output_file_id:
            return None
        return self.download(info.output_file_id, destination)

    def download(self, file_id: str, destination: Path) -> Path:
        """Write the file's bytes next to their final name first, so a crash leaves no half file."""
        content = self._call("download", self._client.files.content, file_id)
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".part")
        partial.write_bytes(content.read())
        partial.replace(destination)
        return destination

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True)
class BatchResult:
    custom_id: str
    result: AnnotationResult


def _failure(model_name: str, kind: FailureKind, message: str, usage: UsageStats) -> AnnotationResult:
    return AnnotationResult(model_name=model_name, failure=AnnotationFailure(kind, message), usage=usage)


def result_from_line(line: dict[str, Any], model_name: str, options: PromptOptions) -> AnnotationResult:
    """One result line: a completion, an HTTP error, or a batch-level error for that request."""
    usage = UsageStats(requests=1)
    response = line.get("response") or {}
    error = line.get("error")
    status = int(response.get("status_code") or 0)
    body = response.get("body") or {}
    if error or status != 200:
        detail = error or body.get("error") or {}
        message = detail.get("message", "") if isinstance(detail, dict) else str(detail)
        classified = classify_status(status or 500, message)
        kinds: dict[str, FailureKind] = {
            "rate_limited": "rate_limited",
            "timeout": "timeout",
            "server_error": "server_error",
        }
        code = detail.get("code") if isinstance(detail, dict) else None
        kind: FailureKind = (
            "policy_violation"
            if code == "content_policy_violation"
            else kinds.get(classified.kind, "model_error")
        )
        return _failure(model_name, kind, classified.message, usage)
    return result_from_reply(reply_from_completion(body), model_name, options, usage)


def result_from_reply(
    reply: Reply, model_name: str, options: PromptOptions, usage: UsageStats
) -> AnnotationResult:
    """A batch answer as a result: the same refusal and parsing rules as a live request."""
    usage.input_tokens, usage.output_tokens = reply.input_tokens, reply.output_tokens
    usage.thinking_tokens = reply.thinking_tokens
    if reply.refusal is not None:
        return _failure(model_name, "policy_violation", f"refused: {reply.refusal}", usage)
    try:
        parsed = parse_annotation(reply.answer, options.fields)
    except MalformedOutputError as exc:
        return _failure(model_name, "malformed_output", str(exc), usage)
    return AnnotationResult(
        model_name=model_name,
        tags=[TagPrediction(name=tag, confidence=None) for tag in parsed.tags],
        caption=parsed.caption,
        score=parsed.score,
        rating=parsed.rating,
        usage=usage,
    )


def read_results(path: Path, model_name: str, options: PromptOptions | None = None) -> Iterator[BatchResult]:
    """Stream results from a downloaded output (or error) file; undecodable lines are skipped."""
    options = options or PromptOptions()
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            raw = raw.strip()
            if not raw:
                continue
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if isinstance(line, dict) and isinstance(line.get("custom_id"), str):
                yield BatchResult(line["custom_id"], result_from_line(line, model_name, options))
