"""CLIP + MLP aesthetic predictors (LAION improved-aesthetic-predictor, waifu-aesthetic).

Both are a CLIP image encoder followed by a small head on the image embedding. Here both halves
are ONNX files run by ONNX Runtime, so scoring needs no torch: `encoder.onnx` maps pixels to the
embedding, `head.onnx` maps the (optionally L2-normalised) embedding to the score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, cast

import numpy as np
import onnxruntime as ort
from PIL import Image

from image_annotator_lib.core.base import ModelSpec
from image_annotator_lib.core.types import AnnotationResult
from image_annotator_lib.exceptions import ModelLoadError
from image_annotator_lib.local.base import LocalOnnxAnnotator, PreparedBatch, prepare_each
from image_annotator_lib.local.preprocessing import CLIP_MEAN, CLIP_STD, Layout, clip_tensor, draft
from image_annotator_lib.local.session_cache import SessionCache

ENCODER_FILE = "encoder.onnx"
HEAD_FILE = "head.onnx"
DEFAULT_CLIP_SIZE = 224


class AestheticScorer(LocalOnnxAnnotator):
    """Options: `encoder_file`, `head_file`, `normalize_embedding` (default true, as LAION's
    predictor was trained), `score_scale_max` (10), `score_kind`, `score_column` for heads with
    several outputs (default: the last), `mean`/`std` to override CLIP's normalisation."""

    kind = "scorer"
    default_files: ClassVar[tuple[str, ...]] = (ENCODER_FILE, HEAD_FILE)

    def __init__(self, spec: ModelSpec, session_cache: SessionCache | None = None) -> None:
        super().__init__(spec, session_cache)
        self._encoder: ort.InferenceSession | None = None
        self._head: ort.InferenceSession | None = None
        self._layout: Layout = "NCHW"
        self._size = DEFAULT_CLIP_SIZE

    @classmethod
    def required_files(cls, spec: ModelSpec) -> tuple[str, ...]:
        return (
            str(spec.options.get("encoder_file", ENCODER_FILE)),
            str(spec.options.get("head_file", HEAD_FILE)),
        )

    def load(self) -> None:
        if self._encoder is not None:
            return
        encoder_file, head_file = self.required_files(self.spec)
        self.files = self.install()
        encoder = self.session_cache.get(self.files[encoder_file], self.device)
        head = self.session_cache.get(self.files[head_file], self.device)
        shape = list(encoder.get_inputs()[0].shape)
        if len(shape) != 4 or 3 not in (shape[1], shape[3]):
            raise ModelLoadError(f"model {self.name!r}: encoder input {shape} is not an image batch")
        self._layout = "NCHW" if shape[1] == 3 else "NHWC"
        size = shape[2] if self._layout == "NCHW" else shape[1]
        self._size = size if isinstance(size, int) else DEFAULT_CLIP_SIZE
        self._head = head
        self._encoder = encoder

    def unload(self) -> None:
        for path in self.files.values():
            self.session_cache.release(path)
        self._encoder = self._head = None

    def draft(self, image: Image.Image) -> None:
        if self._encoder is not None:  # the input size is known once loaded; decode threads never load
            draft(image, self._size, "shorter")

    def prepare(self, images: Sequence[Image.Image]) -> PreparedBatch:
        self.load()
        mean = cast(tuple[float, float, float], tuple(self.option("mean", CLIP_MEAN)))
        std = cast(tuple[float, float, float], tuple(self.option("std", CLIP_STD)))
        return prepare_each(images, lambda image: clip_tensor(image, self._size, mean, std), self._layout)

    def annotate_prepared(self, prepared: PreparedBatch) -> list[AnnotationResult]:
        self.load()
        scores = None
        if prepared.tensor is not None:
            scores = self.score(prepared.tensor)
        scale = float(self.option("score_scale_max", 10.0))
        kind = str(self.option("score_kind", "aesthetic"))
        results = []
        for index, row in enumerate(prepared.rows):
            if row is None or scores is None:
                results.append(AnnotationResult(self.name, failure=prepared.failures[index]))
            else:
                results.append(
                    AnnotationResult(
                        self.name, score=float(scores[row]), score_kind=kind, score_scale_max=scale
                    )
                )
        return results

    def annotate_batch(self, images: Sequence[Image.Image]) -> list[AnnotationResult]:
        return self.annotate_prepared(self.prepare(images))

    def score(self, pixels: np.ndarray) -> np.ndarray:
        """Encoder then head on an already preprocessed batch; one float per image."""
        encoder = cast(ort.InferenceSession, self._encoder)
        head = cast(ort.InferenceSession, self._head)
        embedding = np.asarray(encoder.run(None, {encoder.get_inputs()[0].name: pixels})[0], np.float32)
        embedding = embedding.reshape(embedding.shape[0], -1)
        if self.option("normalize_embedding", True):
            norms = np.linalg.norm(embedding, axis=1, keepdims=True)
            embedding = embedding / np.maximum(norms, 1e-12)
        output = np.asarray(head.run(None, {head.get_inputs()[0].name: embedding})[0], np.float32)
        output = output.reshape(output.shape[0], -1)
        return output[:, int(self.option("score_column", -1))]
