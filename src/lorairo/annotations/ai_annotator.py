"""LoRAIro's only door into image-annotator-lib: builds the model registry from the user's settings
and turns the library's errors into LoRAIro's, so services and shells never see library types fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image

from image_annotator_lib.api import (
    AestheticScorer,
    Annotator,
    AnnotatorConfigError,
    AnnotatorLibError,
    FileProgress,
    ImageEmbedder,
    ModelInfo,
    ModelLoadError,
    ModelNotFoundError,
    ModelRegistry,
    PHashAnnotationResults,
    ProviderAuthenticationError,
    ProviderModelNotFoundError,
    ProviderUnavailableError,
    annotate,
)
from lorairo.annotations.provider_settings import add_provider_models
from lorairo.config import Settings
from lorairo.errors import (
    AuthenticationError,
    ConfigurationError,
    LoRAIroException,
    ModelNotAvailableError,
    ValidationError,
)


class AiAnnotatorError(LoRAIroException):
    """A model could not be loaded or run (missing files, offline and not cached, bad ONNX)."""


def run_stopping_error(model_name: str, exc: Exception) -> LoRAIroException | None:
    """The app error that ends a run for a library error raised mid-run, or None when the error
    fails only the batch it happened in (a model's own bug, one bad input)."""
    if isinstance(exc, ProviderAuthenticationError):
        return AuthenticationError(str(exc))
    if isinstance(exc, ProviderModelNotFoundError):  # nothing of this batch is stored
        return ModelNotAvailableError(str(exc))
    if isinstance(exc, ModelLoadError | ProviderUnavailableError):
        return AiAnnotatorError(f"{model_name}: {exc}")
    return None


def build_registry(config: Settings) -> ModelRegistry:
    """Built-in models plus `annotator_config.toml`, with `[annotation]` settings as defaults, plus
    the configured models of every API provider that has a key."""
    section = config.config.annotation
    try:
        registry = ModelRegistry(
            config_path=config.annotator_config_path,
            default_options={
                "device": section.device,
                "threads": section.threads,
                "storage_floor": section.storage_floor,
                "general_threshold": section.general_threshold,
                "character_threshold": section.character_threshold,
            },
        )
    except AnnotatorConfigError as exc:
        raise ConfigurationError(str(exc)) from exc
    add_provider_models(registry, config)
    return registry


def get_available_annotator_models(registry: ModelRegistry) -> list[ModelInfo]:
    try:
        return registry.list_models()
    except AnnotatorConfigError as exc:
        raise ConfigurationError(str(exc)) from exc


def load_annotator(registry: ModelRegistry, name: str) -> Annotator:
    """The model ready to annotate; an unknown name is bad input, a broken model a run failure."""
    try:
        annotator = registry.get(name)
        annotator.load()
    except ModelNotFoundError as exc:
        raise ValidationError(str(exc)) from exc
    except AnnotatorConfigError as exc:
        raise ConfigurationError(str(exc)) from exc
    except AnnotatorLibError as exc:
        raise AiAnnotatorError(f"cannot load model {name!r}: {exc}") from exc
    return annotator


def embed_text(registry: ModelRegistry, name: str, texts: Sequence[str]) -> np.ndarray:
    """Unit vectors of `texts` from an embedder's text encoder (bad input when it has none)."""
    try:
        embedder = registry.get(name)
        if not isinstance(embedder, ImageEmbedder):
            raise ValidationError(f"model {name!r} is not an image embedder (class ImageEmbedder)")
        if not embedder.has_text:
            raise ValidationError(
                f"model {name!r} has no text encoder: set text_encoder_file and tokenizer_file in its entry"
            )
        return embedder.embed_text(texts)
    except ModelNotFoundError as exc:
        raise ValidationError(str(exc)) from exc
    except AnnotatorLibError as exc:
        raise AiAnnotatorError(f"{name}: {exc}") from exc


def shared_encoder(registry: ModelRegistry, scorer: Annotator, embedders: Iterable[str]) -> str | None:
    """The first of `embedders` whose stored vectors `scorer` may score instead of re-encoding
    (same encoder file, preprocessing and output, and a head fed unit vectors), else None."""
    if not isinstance(scorer, AestheticScorer):
        return None
    key = AestheticScorer.reuse_key(scorer.spec)
    if key is None:
        return None
    for name in embedders:
        try:
            spec = registry.spec(name)
        except ModelNotFoundError:
            continue  # vectors of a model no longer configured
        if spec.class_name == "ImageEmbedder" and ImageEmbedder.reuse_key(spec) == key:
            return name
    return None


def install_model(registry: ModelRegistry, name: str, progress: FileProgress | None = None) -> ModelInfo:
    try:
        return registry.install(name, progress)
    except ModelNotFoundError as exc:
        raise ValidationError(str(exc)) from exc
    except AnnotatorLibError as exc:
        raise AiAnnotatorError(f"cannot install model {name!r}: {exc}") from exc


def call_annotate_library(
    registry: ModelRegistry,
    images: Sequence[Image.Image],
    model_names: Sequence[str],
    phashes: Sequence[str],
) -> PHashAnnotationResults:
    """The spec's one-call form (results keyed by pHash, then model), with LoRAIro errors."""
    for name in model_names:
        load_annotator(registry, name)
    try:
        return annotate(images, model_names, phashes, registry=registry)
    except AnnotatorLibError as exc:
        raise AiAnnotatorError(str(exc)) from exc
