"""The library's public surface: `annotate(images, model_names, phashes)` in the spec's shape, and
the types an application needs, re-exported so it imports from here only.

Applications that need batching control or failure bookkeeping use `ModelRegistry` and
`Annotator.annotate_batch` directly; `annotate` is the simple one-call form.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from image_annotator_lib.core.base import Annotator, ModelSpec
from image_annotator_lib.core.types import (
    AnnotationFailure,
    AnnotationResult,
    PHashAnnotationResults,
    TagPrediction,
)
from image_annotator_lib.exceptions import (
    AnnotatorLibError,
    ModelLoadError,
    ModelNotFoundError,
    ProviderAuthenticationError,
    ProviderModelNotFoundError,
    ProviderRequestError,
    ProviderUnavailableError,
)
from image_annotator_lib.local.aesthetic_scorer import AestheticScorer
from image_annotator_lib.local.image_embedder import ImageEmbedder
from image_annotator_lib.model_files import FileProgress
from image_annotator_lib.registry import AnnotatorConfigError, ModelInfo, ModelRegistry

__all__ = [
    "AestheticScorer",
    "AnnotationFailure",
    "AnnotationResult",
    "Annotator",
    "AnnotatorConfigError",
    "AnnotatorLibError",
    "FileProgress",
    "ImageEmbedder",
    "ModelInfo",
    "ModelLoadError",
    "ModelNotFoundError",
    "ModelRegistry",
    "ModelSpec",
    "PHashAnnotationResults",
    "ProviderAuthenticationError",
    "ProviderModelNotFoundError",
    "ProviderRequestError",
    "ProviderUnavailableError",
    "TagPrediction",
    "annotate",
    "default_registry",
    "list_models",
]

_default_registry: ModelRegistry | None = None


def default_registry() -> ModelRegistry:
    """Built-in models only; applications pass their own registry to add config entries."""
    global _default_registry
    if _default_registry is None:
        _default_registry = ModelRegistry()
    return _default_registry


def list_models(registry: ModelRegistry | None = None) -> list[ModelInfo]:
    return (registry or default_registry()).list_models()


def annotate(
    images: Sequence[Image.Image],
    model_names: Sequence[str],
    phashes: Sequence[str],
    *,
    registry: ModelRegistry | None = None,
) -> PHashAnnotationResults:
    """Results keyed by pHash, then model name. Images sharing a pHash share one entry (the last
    image wins), which is why the app keys its own bookkeeping by image id instead."""
    if len(images) != len(phashes):
        raise ValueError(f"{len(images)} images but {len(phashes)} pHashes")
    registry = registry or default_registry()
    results: PHashAnnotationResults = {phash: {} for phash in phashes}
    for name in model_names:
        annotator = registry.get(name)
        annotator.load()
        for phash, result in zip(phashes, annotator.annotate_batch(images), strict=True):
            results[phash][name] = result
    return results
