"""What every local ONNX model shares: files resolved from a folder or repo, options with defaults."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from image_annotator_lib.core.base import Annotator, ModelSpec
from image_annotator_lib.core.types import AnnotationFailure
from image_annotator_lib.local.preprocessing import Layout, stack
from image_annotator_lib.local.session_cache import SessionCache, default_session_cache
from image_annotator_lib.model_files import FileProgress, locate_cached, resolve_model_files


@dataclass
class PreparedBatch:
    """Tensors for the images that preprocessed, and failures for those that did not."""

    tensor: np.ndarray | None
    rows: list[int | None]  # per input image: its row in `tensor`, or None when it failed
    failures: dict[int, AnnotationFailure] = field(default_factory=dict)


def prepare_each(
    images: Sequence[Image.Image], to_tensor: Callable[[Image.Image], np.ndarray], layout: Layout
) -> PreparedBatch:
    """Preprocess image by image so one broken image fails alone, then stack the rest."""
    tensors: list[np.ndarray] = []
    rows: list[int | None] = []
    failures: dict[int, AnnotationFailure] = {}
    for index, image in enumerate(images):
        try:
            tensors.append(to_tensor(image))
        except (OSError, ValueError) as exc:
            rows.append(None)
            failures[index] = AnnotationFailure("unreadable_image", f"{type(exc).__name__}: {exc}")
            continue
        rows.append(len(tensors) - 1)
    return PreparedBatch(stack(tensors, layout) if tensors else None, rows, failures)


class LocalOnnxAnnotator(Annotator):
    """An annotator whose weights are files on this machine, run by ONNX Runtime."""

    default_files: ClassVar[tuple[str, ...]] = ()

    def __init__(self, spec: ModelSpec, session_cache: SessionCache | None = None) -> None:
        super().__init__(spec)
        self.session_cache = session_cache if session_cache is not None else default_session_cache
        self.files: dict[str, Path] = {}

    @classmethod
    def required_files(cls, spec: ModelSpec) -> tuple[str, ...]:
        """File names the model folder must hold (options may rename them)."""
        return cls.default_files

    def option(self, key: str, default: Any) -> Any:
        return self.spec.options.get(key, default)

    @property
    def device(self) -> str:
        return str(self.option("device", "auto"))

    def install(self, progress: FileProgress | None = None) -> dict[str, Path]:
        """Fetch the files now (download for repo ids); no session is built."""
        return resolve_model_files(
            self.spec.model_path,
            self.required_files(self.spec),
            model_name=self.name,
            progress=progress,
        )

    def installed_files(self) -> dict[str, Path] | None:
        return locate_cached(self.spec.model_path, self.required_files(self.spec))
