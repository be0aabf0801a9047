"""Anthropic Message Batches and Gemini batch mode, behind the same interface as OpenAI's Batch API.

Each client writes its provider's request JSONL locally first (Anthropic: `custom_id` + `params`;
Gemini: `key` + `request`), sends it, polls, and saves the results as JSONL lines carrying the same
custom id, so the app's import matches them back and skips what it already stored. Results are
parsed with the live providers' own readers. Gemini's batches are sent inline, which the service
caps at 20 MB per batch; a larger selection must be split with `--limit`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from image_annotator_lib.core.types import AnnotationFailure, AnnotationResult, FailureKind, UsageStats
from image_annotator_lib.exceptions import ProviderAuthenticationError, ProviderRequestError
from image_annotator_lib.providers import batch_api
from image_annotator_lib.providers.anthropic_provider import (
    classify_anthropic_error,
    messages_request,
    reply_from_message,
)
from image_annotator_lib.providers.batch_api import BatchInfo, BatchResult, result_from_reply
from image_annotator_lib.providers.google_provider import (
    classify_google_error,
    generate_request,
    reply_from_generate,
)
from image_annotator_lib.providers.image_encoding import EncodedImage
from image_annotator_lib.providers.prompt import Prompt, PromptOptions
from image_annotator_lib.providers.retry import ProviderError
from image_annotator_lib.providers.settings import ProviderSettings

GEMINI_INLINE_LIMIT = 20 * 1024 * 1024  # Gemini's cap on an inline batch request
BATCH_KINDS = ("openai", "anthropic", "google")


class BatchClient(Protocol):
    def submit(self, request_file: Path, *, metadata: dict[str, str] | None = None) -> BatchInfo: ...
    def status(self, remote_id: str) -> BatchInfo: ...
    def fetch_results(self, info: BatchInfo, destination: Path) -> Path | None: ...
    def close(self) -> None: ...


def _atomic_lines(destination: Path, lines: Iterable[str]) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    with partial.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
    partial.replace(destination)
    return destination


class _Calls:
    """Turn SDK errors into one clear library exception, as OpenAIBatchClient does."""

    settings: ProviderSettings
    _classify: Callable[[Exception], ProviderError | None]

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            error = self._classify(exc)
            if error is None:
                raise
            if error.kind == "auth":
                raise ProviderAuthenticationError(
                    f"{self.settings.name}: authentication failed ({error.status}); "
                    f"check the API key configured for provider {self.settings.name!r}"
                ) from None
            raise ProviderRequestError(
                self.settings.scrub(f"{self.settings.name}: {what} failed: {error.message}")
            ) from None


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            if raw.strip():
                yield json.loads(raw)


# -- Anthropic ----------------------------------------------------------------------------------


class AnthropicBatchClient(_Calls):
    def __init__(self, settings: ProviderSettings) -> None:
        import anthropic

        if not settings.api_key:
            raise ProviderAuthenticationError(f"provider {settings.name!r} has no API key configured")
        self.settings = settings
        self._classify = classify_anthropic_error
        self._client = anthropic.Anthropic(
            api_key=settings.api_key,
            base_url=settings.base_url or None,
            timeout=settings.timeout,
            max_retries=0,
        )

    @staticmethod
    def write_requests(
        path: Path, items: Iterable[tuple[str, EncodedImage]], *, model: str, prompt: Prompt, structured: bool
    ) -> int:
        lines = (
            json.dumps(
                {"custom_id": cid, "params": messages_request(model, prompt, image, structured=structured)}
            )
            for cid, image in items
        )
        return _count_lines(path, lines)

    @staticmethod
    def _info(batch: Any) -> BatchInfo:
        counts = batch.request_counts.model_dump() if batch.request_counts is not None else {}
        status = "completed" if batch.processing_status == "ended" else batch.processing_status
        return BatchInfo(batch.id, status, counts={k: int(v) for k, v in counts.items()})

    def submit(self, request_file: Path, *, metadata: dict[str, str] | None = None) -> BatchInfo:
        requests = list(_read_jsonl(request_file))
        return self._info(
            self._call("batch creation", self._client.messages.batches.create, requests=requests)
        )

    def status(self, remote_id: str) -> BatchInfo:
        return self._info(self._call("status", self._client.messages.batches.retrieve, remote_id))

    def fetch_results(self, info: BatchInfo, destination: Path) -> Path | None:
        if info.status != "completed":
            return None
        results = self._call("download", self._client.messages.batches.results, info.remote_id)
        return _atomic_lines(destination, (item.model_dump_json() for item in results))

    def close(self) -> None:
        self._client.close()


_ANTHROPIC_UNFINISHED: dict[str, FailureKind] = {"canceled": "model_error", "expired": "timeout"}


def anthropic_result(line: dict[str, Any], model_name: str, options: PromptOptions) -> AnnotationResult:
    usage = UsageStats(requests=1)
    result = line.get("result") or {}
    kind = result.get("type")
    if kind == "succeeded":
        return result_from_reply(reply_from_message(result.get("message") or {}), model_name, options, usage)
    if kind == "errored":
        error = (result.get("error") or {}).get("error") or result.get("error") or {}
        message = f"{error.get('type', 'error')}: {error.get('message', '')}"
        return AnnotationResult(model_name, failure=AnnotationFailure("model_error", message), usage=usage)
    failure = _ANTHROPIC_UNFINISHED.get(str(kind), "model_error")
    return AnnotationResult(
        model_name, failure=AnnotationFailure(failure, f"batch request {kind}"), usage=usage
    )


# -- Gemini -------------------------------------------------------------------------------------


class GeminiBatchClient(_Calls):
    def __init__(self, settings: ProviderSettings, model: str) -> None:
        from google import genai
        from google.genai import types

        if not settings.api_key:
            raise ProviderAuthenticationError(f"provider {settings.name!r} has no API key configured")
        self.settings = settings
        self.model = model
        self._classify = classify_google_error
        options = types.HttpOptions(base_url=settings.base_url or None, timeout=int(settings.timeout * 1000))
        self._client = genai.Client(api_key=settings.api_key, http_options=options)

    @staticmethod
    def write_requests(
        path: Path, items: Iterable[tuple[str, EncodedImage]], *, model: str, prompt: Prompt, structured: bool
    ) -> int:
        def line(cid: str, image: EncodedImage) -> str:
            contents, config = generate_request(prompt, image, structured=structured)
            request = {
                "contents": [c.model_dump(mode="json", exclude_none=True) for c in contents],
                "config": config.model_dump(mode="json", exclude_none=True),
            }
            return json.dumps({"key": cid, "request": request})

        return _count_lines(path, (line(cid, image) for cid, image in items))

    def _info(self, job: Any) -> BatchInfo:
        state = str(getattr(job.state, "value", job.state) or "")
        status = {
            "JOB_STATE_SUCCEEDED": "completed",
            "JOB_STATE_FAILED": "failed",
            "JOB_STATE_CANCELLED": "cancelled",
            "JOB_STATE_EXPIRED": "expired",
        }.get(state, "in_progress")
        return BatchInfo(str(job.name), status)

    def submit(self, request_file: Path, *, metadata: dict[str, str] | None = None) -> BatchInfo:
        if request_file.stat().st_size > GEMINI_INLINE_LIMIT:
            raise ProviderRequestError(
                f"{self.settings.name}: the batch is over Gemini's 20 MB inline limit; submit fewer images (--limit)"
            )
        inlined = [
            {**line["request"], "metadata": {"custom_id": line["key"]}} for line in _read_jsonl(request_file)
        ]
        job = self._call(
            "batch creation",
            self._client.batches.create,
            model=self.model,
            src=inlined,
            config={"display_name": (metadata or {}).get("project", "lorairo")},
        )
        return self._info(job)

    def status(self, remote_id: str) -> BatchInfo:
        return self._info(self._call("status", self._client.batches.get, name=remote_id))

    def fetch_results(self, info: BatchInfo, destination: Path) -> Path | None:
        if info.status != "completed":
            return None
        job = self._call("download", self._client.batches.get, name=info.remote_id)
        responses = (job.dest.inlined_responses if job.dest else None) or []

        def line(item: Any) -> str:
            return json.dumps(
                {
                    "custom_id": (item.metadata or {}).get("custom_id"),
                    "response": item.response.model_dump(mode="json", exclude_none=True)
                    if item.response
                    else None,
                    "error": item.error.model_dump(mode="json", exclude_none=True) if item.error else None,
                }
            )

        return _atomic_lines(destination, (line(item) for item in responses))

    def close(self) -> None:
        self._client.close()


def gemini_result(line: dict[str, Any], model_name: str, options: PromptOptions) -> AnnotationResult:
    from google.genai import types

    usage = UsageStats(requests=1)
    if line.get("error") or not line.get("response"):
        error = line.get("error") or {}
        message = f"batch request failed: {error.get('message', 'no response')}"
        return AnnotationResult(model_name, failure=AnnotationFailure("model_error", message), usage=usage)
    response = types.GenerateContentResponse.model_validate(line["response"])
    return result_from_reply(reply_from_generate(response), model_name, options, usage)


# -- one door for the app -----------------------------------------------------------------------


def _count_lines(path: Path, lines: Iterable[str]) -> int:
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
            count += 1
    return count


def batch_client(settings: ProviderSettings, model: str) -> BatchClient:
    if settings.kind == "anthropic":
        return AnthropicBatchClient(settings)
    if settings.kind == "google":
        return GeminiBatchClient(settings, model)
    return batch_api.OpenAIBatchClient(settings)


def write_requests(
    settings: ProviderSettings,
    path: Path,
    items: Iterable[tuple[str, EncodedImage]],
    *,
    model: str,
    prompt: Prompt,
) -> int:
    """The provider's request JSONL, streamed; returns how many requests it holds."""
    structured = settings.structured_output
    if settings.kind == "anthropic":
        return AnthropicBatchClient.write_requests(
            path, items, model=model, prompt=prompt, structured=structured
        )
    if settings.kind == "google":
        return GeminiBatchClient.write_requests(
            path, items, model=model, prompt=prompt, structured=structured
        )
    return batch_api.write_requests(path, items, model=model, prompt=prompt, structured=structured)


def read_results(path: Path, kind: str, model_name: str, options: PromptOptions) -> Iterator[BatchResult]:
    """Results of a downloaded file, whichever provider wrote it; undecodable lines are skipped."""
    if kind not in ("anthropic", "google"):
        yield from batch_api.read_results(path, model_name, options)
        return
    parse = anthropic_result if kind == "anthropic" else gemini_result
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            try:
                line = json.loads(raw) if raw.strip() else None
            except json.JSONDecodeError:
                continue
            if isinstance(line, dict) and isinstance(line.get("custom_id"), str):
                yield BatchResult(line["custom_id"], parse(line, model_name, options))
