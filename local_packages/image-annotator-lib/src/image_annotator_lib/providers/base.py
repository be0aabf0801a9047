"""What every vision-LLM provider shares: concurrency, rate limiting, retries, refusals, usage.

A subclass only opens its SDK client, sends one request and classifies its SDK's exceptions; the
loop here decides what is retried, what is recorded as a failure, and what stops the run.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypedDict

from loguru import logger
from PIL import Image

from image_annotator_lib.core.base import Annotator, ModelSpec
from image_annotator_lib.core.types import (
    AnnotationFailure,
    AnnotationResult,
    FailureKind,
    TagPrediction,
    UsageStats,
)
from image_annotator_lib.exceptions import (
    AnnotatorLibError,
    ProviderAuthenticationError,
    ProviderModelNotFoundError,
    ProviderUnavailableError,
)
from image_annotator_lib.providers.image_encoding import EncodedImage, encode_image
from image_annotator_lib.providers.parsing import MalformedOutputError, parse_annotation
from image_annotator_lib.providers.prompt import Prompt, PromptOptions, build_prompt
from image_annotator_lib.providers.rate_limit import limiter_for
from image_annotator_lib.providers.retry import ProviderError, RetryPolicy, classify_transport
from image_annotator_lib.providers.settings import ProviderSettings
from image_annotator_lib.providers.styles import PROMPT_VALUES_KEY

LOCAL_DEFAULT_CONCURRENCY = 2  # a local server that does not report its parallel slots

_EXHAUSTED: dict[str, FailureKind] = {
    "rate_limited": "rate_limited",
    "timeout": "timeout",
    "server_error": "server_error",
}


class Tokens(TypedDict):
    """Token counts as the SDK reported them, splatted into `Reply`; output includes thinking."""

    input_tokens: int
    output_tokens: int
    thinking_tokens: int


@dataclass
class Reply:
    """One provider answer: the structured dict or text, or the refusal that replaced it."""

    answer: str | dict[str, Any] | None
    refusal: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0


# One image on its way to a request: encoded with its prompt, failed to encode, or still encoding.
_Ready = tuple[EncodedImage, Prompt] | AnnotationResult
_Item = _Ready | Future[_Ready]


class _Stopped(Exception):
    """Another image of the batch hit a run-stopping error; this one is abandoned unsent."""


class VisionProvider(Annotator):
    """Base for API annotators. `spec.options` holds `settings` (ProviderSettings), optionally
    `model` (the provider's model id, default: the part of the name after the first `/`) and
    `prompt` (PromptOptions)."""

    kind = "vlm"
    is_api = True

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        settings = spec.options.get("settings")
        if not isinstance(settings, ProviderSettings):
            raise ValueError(f"{spec.name}: options['settings'] must be a ProviderSettings")
        self.settings = settings
        self.model: str = spec.options.get("model") or spec.name.split("/", 1)[-1]
        options = spec.options.get("prompt") or PromptOptions()
        if not isinstance(options, PromptOptions):
            raise ValueError(f"{spec.name}: options['prompt'] must be a PromptOptions")
        self.prompt_options = options
        self.prompt = build_prompt(options)
        self.policy = RetryPolicy(
            settings.retry_attempts, settings.retry_base_delay, settings.retry_max_delay
        )
        self._client: Any = None
        self._client_lock = threading.Lock()
        self.concurrency = settings.max_concurrency or LOCAL_DEFAULT_CONCURRENCY

    # -- what a provider implements ----------------------------------------------------------

    @abstractmethod
    def _create_client(self) -> Any:
        """Open the SDK client with the SDK's own retries disabled (we count our own)."""

    @abstractmethod
    def _send(self, client: Any, image: EncodedImage, prompt: Prompt) -> Reply:
        """Send one image with its prompt; SDK exceptions propagate to `_classify`."""

    @abstractmethod
    def _classify_sdk_error(self, exc: Exception) -> ProviderError | None:
        """Translate an SDK exception; None when it is not one of the SDK's API errors."""

    def _needs_key(self) -> bool:
        """Hosted APIs refuse without a key; an OpenAI-compatible local server may not need one."""
        return True

    # -- lifecycle -----------------------------------------------------------------------------

    def load(self) -> None:
        with self._client_lock:
            if self._client is not None:
                return
            if self._needs_key() and not self.settings.api_key:
                raise ProviderUnavailableError(
                    f"provider {self.settings.name!r} has no API key configured; its models are unavailable"
                )
            self._client = self._create_client()
            if self.settings.max_concurrency is None:
                from image_annotator_lib.providers.discovery import parallel_slots

                self.concurrency = parallel_slots(self.settings) or LOCAL_DEFAULT_CONCURRENCY

    def unload(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        close = getattr(client, "close", None)
        if callable(close):
            close()

    # -- the loop ------------------------------------------------------------------------------

    def prepare(self, images: Sequence[Image.Image]) -> list[_Ready]:
        """Encode ahead (the app runs this in its prefetch thread), so no request slot waits on
        JPEG encoding; an image that cannot be encoded is already its failure result."""
        return [self._encode(image) for image in images]

    def annotate_prepared(self, prepared: Sequence[_Ready]) -> list[AnnotationResult]:
        return self._run(prepared)

    def annotate_batch(self, images: Sequence[Image.Image]) -> list[AnnotationResult]:
        """Encode in one thread running ahead of the senders, so the senders never idle."""
        if not images:
            return []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.settings.name}-encode") as encoder:
            return self._run([encoder.submit(self._encode, image) for image in images])

    def _encode(self, image: Image.Image) -> _Ready:
        """The image as sent, and its prompt (a style's placeholders filled from `image.info`)."""
        values = image.info.get(PROMPT_VALUES_KEY)
        prompt = build_prompt(self.prompt_options, values) if values else self.prompt
        try:
            return encode_image(image), prompt
        except (OSError, ValueError) as exc:
            return self._failure("unreadable_image", f"cannot encode image: {exc}", UsageStats())

    def _run(self, items: Sequence[_Item]) -> list[AnnotationResult]:
        """Annotate concurrently (at most `concurrency` in flight); raise on 401/403 and on
        404 / model-not-found, returning nothing, so the caller records no per-image rows."""
        if not items:
            return []
        self.load()
        stop = threading.Event()
        workers = min(self.concurrency, len(items))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{self.settings.name}-vlm") as pool:
            futures = [pool.submit(self._annotate_one, item, stop) for item in items]
            results: list[AnnotationResult] = []
            stopping: AnnotatorLibError | None = None
            for future in futures:
                try:
                    results.append(future.result())
                except (ProviderAuthenticationError, ProviderModelNotFoundError) as exc:
                    stopping = stopping or exc
                except _Stopped:
                    continue
        if stopping is not None:
            raise stopping
        return results

    def model_missing_message(self, error: ProviderError) -> str:
        """One line naming the model and the provider, and where to find what it does offer."""
        detail = " ".join(error.message.split())[:200]
        return (
            f"model {self.model!r} not found at provider {self.settings.name!r} ({detail}); "
            f"`lorairo providers models {self.settings.name}` lists its models"
        )

    def _failure(self, kind: FailureKind, message: str, usage: UsageStats) -> AnnotationResult:
        return AnnotationResult(
            model_name=self.name,
            failure=AnnotationFailure(kind, self.settings.scrub(message)),
            usage=usage,
        )

    def _to_error(self, exc: Exception) -> ProviderError:
        if isinstance(exc, ProviderError):
            return exc
        error = self._classify_sdk_error(exc) or classify_transport(exc)
        if error is None:
            error = ProviderError("fatal", f"{type(exc).__name__}: {exc}")
        error.message = self.settings.scrub(error.message)
        return error

    def _annotate_one(self, item: _Item, stop: threading.Event) -> AnnotationResult:
        usage = UsageStats()
        ready = item.result() if isinstance(item, Future) else item
        if isinstance(ready, AnnotationResult):
            return ready
        encoded, prompt = ready
        limiter = limiter_for(self.settings.name, self.settings.requests_per_minute)
        malformed_retried = False
        retries = 0
        while True:
            if stop.is_set():
                raise _Stopped
            limiter.acquire()
            usage.requests += 1
            try:
                reply = self._send(self._client, encoded, prompt)
            except Exception as exc:
                error = self._to_error(exc)
            else:
                usage.input_tokens += reply.input_tokens
                usage.output_tokens += reply.output_tokens
                usage.thinking_tokens += reply.thinking_tokens
                if reply.refusal is not None:
                    return self._failure("policy_violation", f"refused: {reply.refusal}", usage)
                try:
                    parsed = parse_annotation(reply.answer, self.prompt_options.fields)
                except MalformedOutputError as exc:
                    error = ProviderError("malformed", str(exc))
                else:
                    return AnnotationResult(
                        model_name=self.name,
                        tags=[TagPrediction(name=tag, confidence=None) for tag in parsed.tags],
                        caption=parsed.caption,
                        score=parsed.score,
                        rating=parsed.rating,
                        usage=usage,
                    )
            if error.kind == "auth":
                stop.set()
                raise ProviderAuthenticationError(
                    f"{self.settings.name}: authentication failed ({error.status or 'no status'}); "
                    f"check the API key configured for provider {self.settings.name!r}"
                )
            if error.kind == "model_not_found":
                stop.set()
                raise ProviderModelNotFoundError(self.model_missing_message(error))
            if error.kind == "policy":
                return self._failure("policy_violation", error.message, usage)
            if error.kind == "malformed":
                if malformed_retried:
                    return self._failure("malformed_output", error.message, usage)
                malformed_retried = True
                usage.retries += 1
                logger.debug("{}: malformed answer, asking once more ({})", self.name, error.message)
                continue
            if not error.retryable:
                return self._failure("model_error", error.message, usage)
            if retries >= self.policy.attempts:
                return self._failure(
                    _EXHAUSTED[error.kind], f"{error.message} (after {retries} retries)", usage
                )
            retries += 1
            usage.retries += 1
            delay = self.policy.delay(retries, error.retry_after)
            logger.debug(
                "{}: {} - retry {}/{} in {:.2f}s",
                self.name,
                error.message,
                retries,
                self.policy.attempts,
                delay,
            )
            if stop.wait(delay):
                raise _Stopped
