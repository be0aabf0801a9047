"""The contract between the model registry, the app and every kind of model.

Local ONNX models and vision-LLM providers implement the same `Annotator`, so the app runs them
through one loop and stores one result type.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from PIL import Image

from image_annotator_lib.core.types import AnnotationResult

ModelKind = Literal["tagger", "scorer", "vlm", "embedder"]


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry: built-in, from `annotator_config.toml`, or from a configured provider."""

    name: str
    class_name: str
    model_path: str = ""  # local folder or Hugging Face repo id (local models)
    provider: str | None = None  # provider name for API models, None for local ones
    options: dict[str, Any] = field(default_factory=dict)


class Annotator(ABC):
    """One loaded model. Instances are reused across batches; `load` is idempotent."""

    kind: ClassVar[ModelKind]
    is_api: ClassVar[bool] = False

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.execution_provider: str | None = None  # local models: what runs the graph, once loaded

    @property
    def name(self) -> str:
        return self.spec.name

    def load(self) -> None:  # noqa: B027  (optional hook: API models have nothing to load)
        """Load weights or open clients; raise `ModelLoadError` when the model cannot be used."""

    def unload(self) -> None:  # noqa: B027  (optional hook)
        """Release memory (sessions, clients)."""

    def draft(self, image: Image.Image) -> None:  # noqa: B027  (optional hook)
        """Called on each opened, not yet decoded image: a model that needs far fewer pixels than
        the file holds may ask the decoder for a reduced scale (JPEG draft). Default: full decode."""

    def prepare(self, images: Sequence[Image.Image]) -> Any:
        """CPU-side work on a batch (resizing, tensor building) that the app runs in a prefetch
        thread while the previous batch is annotated. Default: nothing to do ahead of time."""
        return images

    def annotate_prepared(self, prepared: Any) -> list[AnnotationResult]:
        """`annotate_batch` on the output of `prepare`; override both or neither."""
        return self.annotate_batch(prepared)

    @abstractmethod
    def annotate_batch(self, images: Sequence[Image.Image]) -> list[AnnotationResult]:
        """One result per image, in order. A per-image problem becomes `AnnotationResult.failure`;
        only run-level problems (model cannot load, authentication refused) raise."""
