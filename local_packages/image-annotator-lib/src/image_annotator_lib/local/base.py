"""What every local ONNX model shares: files resolved from a folder or repo, options with defaults."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from image_annotator_lib.core.base import Annotator, ModelSpec
from image_annotator_lib.core.types import AnnotationFailure
from image_annotator_lib.exceptions import ModelLoadError
from image_annotator_lib.local.session_cache import SessionCache, default_session_cache
from image_annotator_lib.model_files import FileProgress, locate_cached, resolve_model_files


@dataclass(frozen=True)
class ModelFile:
    """One file a model needs: its role in the model, and where it comes from (folder or repo)."""

    role: str
    source: str
    filename: str


@dataclass
class PreparedBatch:
    """Tensors for the images that preprocessed, and failures for those that did not."""

    tensor: np.ndarray | None
    rows: list[int | None]  # per input image: its row in `tensor`, or None when it failed
    failures: dict[int, AnnotationFailure] = field(default_factory=dict)


def prepare_each(
    images: Sequence[Image.Image],
    to_array: Callable[[Image.Image], np.ndarray],
    to_batch: Callable[[list[np.ndarray]], np.ndarray],
) -> PreparedBatch:
    """Preprocess image by image so one broken image fails alone, then stack the rest."""
    arrays: list[np.ndarray] = []
    rows: list[int | None] = []
    failures: dict[int, AnnotationFailure] = {}
    for index, image in enumerate(images):
        try:
            arrays.append(to_array(image))
        except (OSError, ValueError) as exc:
            rows.append(None)
            failures[index] = AnnotationFailure("unreadable_image", f"{type(exc).__name__}: {exc}")
            continue
        rows.append(len(arrays) - 1)
    return PreparedBatch(to_batch(arrays) if arrays else None, rows, failures)


class LocalOnnxAnnotator(Annotator):
    """An annotator whose weights are files on this machine, run by ONNX Runtime.

    Every local model may list `extra_files` (e.g. `model.onnx.data`, ONNX external weights):
    they come from the main model file's source (a scorer's encoder) and are installed beside it."""

    def __init__(self, spec: ModelSpec, session_cache: SessionCache | None = None) -> None:
        super().__init__(spec)
        self.session_cache = session_cache if session_cache is not None else default_session_cache
        self.files: dict[str, Path] = {}

    @classmethod
    def own_files(cls, spec: ModelSpec) -> list[ModelFile]:
        """The files this kind of model reads (options may rename or relocate them)."""
        raise NotImplementedError

    @classmethod
    def model_files(cls, spec: ModelSpec) -> list[ModelFile]:
        extra = spec.options.get("extra_files", [])
        if isinstance(extra, str) or not all(isinstance(name, str) for name in extra):
            raise ModelLoadError(f"model {spec.name!r}: extra_files must be a list of file names")
        own = cls.own_files(spec)  # extras sit beside the first: the model (or encoder) file
        return [*own, *(ModelFile(f"extra:{name}", own[0].source, name) for name in extra)]

    def option(self, key: str, default: Any) -> Any:
        return self.spec.options.get(key, default)

    @property
    def device(self) -> str:
        return str(self.option("device", "auto"))

    @property
    def threads(self) -> int:
        """ONNX Runtime intra-op threads; 0 = one per physical core (one process on the machine)."""
        value = self.option("threads", 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ModelLoadError(f"model {self.name!r}: threads must be a whole number >= 0, got {value!r}")
        return value

    def install(self, progress: FileProgress | None = None) -> dict[str, Path]:
        """Fetch the files now (download for repo ids); no session is built."""
        files = self.model_files(self.spec)
        paths: dict[str, Path] = {}
        for source in dict.fromkeys(f.source for f in files):
            group = [f for f in files if f.source == source]
            found = resolve_model_files(
                source, [f.filename for f in group], model_name=self.name, progress=progress
            )
            paths.update({f.role: found[f.filename] for f in group})
        return paths

    def installed_files(self) -> dict[str, Path] | None:
        files = self.model_files(self.spec)
        paths: dict[str, Path] = {}
        for source in dict.fromkeys(f.source for f in files):
            group = [f for f in files if f.source == source]
            found = locate_cached(source, [f.filename for f in group])
            if found is None:
                return None
            paths.update({f.role: found[f.filename] for f in group})
        return paths
