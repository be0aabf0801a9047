"""What an annotator returns. Plain dataclasses: the app decides how to store them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

TagCategory = Literal["general", "character", "rating", "artist", "copyright", "meta"]
FailureKind = Literal[
    "unreadable_image",  # the image could not be decoded
    "model_error",  # the model or provider raised
    "policy_violation",  # the provider refused for content policy (never retried blindly)
    "malformed_output",  # the answer could not be parsed
    "rate_limited",  # retries exhausted on 429
    "timeout",  # retries exhausted on timeouts
    "server_error",  # retries exhausted on 5xx / connection errors
]


@dataclass(frozen=True)
class TagPrediction:
    """One tag with its confidence (None when the source gives none, e.g. an LLM)."""

    name: str
    confidence: float | None
    category: TagCategory = "general"
    accepted: bool = True


@dataclass
class AnnotationFailure:
    kind: FailureKind
    message: str

    @property
    def is_policy_violation(self) -> bool:
        return self.kind == "policy_violation"


@dataclass
class UsageStats:
    """What a provider reports per request (zero for local models). `output_tokens` is everything
    billed as output; `thinking_tokens` is the part of it the model spent reasoning (where the
    provider reports it: OpenAI `reasoning_tokens`, Gemini `thoughts_token_count`)."""

    requests: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0


@dataclass
class AnnotationResult:
    """One model's opinion of one image. `failure` is set instead of the fields when it failed."""

    model_name: str
    tags: list[TagPrediction] = field(default_factory=list)
    caption: str | None = None
    score: float | None = None
    score_kind: str = "aesthetic"
    score_scale_max: float = 10.0
    rating: str | None = None
    rating_confidence: float | None = None
    failure: AnnotationFailure | None = None
    embedding: np.ndarray | None = None  # embedders: one L2-normalised float32 vector
    usage: UsageStats = field(default_factory=UsageStats)

    @property
    def ok(self) -> bool:
        return self.failure is None


# Results keyed by pHash, then by model name (the spec's `PHashAnnotationResults`).
PHashAnnotationResults = dict[str, dict[str, AnnotationResult]]
