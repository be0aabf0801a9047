"""Aesthetic scorers: a CLIP image encoder plus a small head, or one ONNX model that scores alone.

The encoder is an ONNX export (e.g. optimum's `vision_model.onnx`, symbolic axes, outputs
`last_hidden_state` and `image_embeds`) from `encoder_path` (default `model_path`) /
`encoder_file`. The head comes from `head_path` / `head_file`, possibly another repo: ONNX, or the
original PyTorch `.pth` state dict read without torch (`torch_state.py`) and run in numpy.
`head_file = ""` makes the encoder file a complete scorer (e.g. skytnt's anime-aesthetic).

Options: `normalize_embedding` (default true, as LAION and waifu were trained), `head_relu` /
`head_sigmoid` (waifu's MLP has both, LAION's neither), `encoder_output` (default: `image_embeds`,
else the 2-D output as wide as the head's input), `score_column`, `score_scale_max` (10),
`score_kind`, and the preprocessing keys of `Preprocess` (default CLIP's).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import onnxruntime as ort
from PIL import Image

from image_annotator_lib.core.base import ModelSpec
from image_annotator_lib.core.types import AnnotationResult
from image_annotator_lib.exceptions import ModelLoadError
from image_annotator_lib.local.base import LocalOnnxAnnotator, ModelFile, PreparedBatch, prepare_each
from image_annotator_lib.local.image_embedder import encoder_key
from image_annotator_lib.local.preprocessing import CLIP_PREPROCESS, Preprocess, draft
from image_annotator_lib.local.session_cache import SessionCache
from image_annotator_lib.local.signature import SessionRunner, read_image_input, select_output
from image_annotator_lib.local.torch_state import (
    MlpHead,
    StateDictError,
    mlp_from_state_dict,
    read_state_dict,
)

ENCODER_FILE = "encoder.onnx"
HEAD_FILE = "head.onnx"
DEFAULT_CLIP_SIZE = 224
EMBEDDING_OUTPUT = "image_embeds"  # what transformers/optimum name the projected embedding
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")


class _OnnxHead:
    """A head exported to ONNX: embedding in, score out."""

    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        shape = session.get_inputs()[0].shape
        self.input_width = shape[-1] if isinstance(shape[-1], int) else None

    def __call__(self, embedding: np.ndarray) -> np.ndarray:
        output = self.session.run(None, {self.session.get_inputs()[0].name: embedding.astype(np.float32)})[0]
        return np.asarray(output, np.float32)


class AestheticScorer(LocalOnnxAnnotator):
    kind = "scorer"

    def __init__(self, spec: ModelSpec, session_cache: SessionCache | None = None) -> None:
        super().__init__(spec, session_cache)
        self._runner: SessionRunner | None = None
        self._head: MlpHead | _OnnxHead | None = None
        self._preprocess = CLIP_PREPROCESS

    @classmethod
    def own_files(cls, spec: ModelSpec) -> list[ModelFile]:
        options = spec.options
        files = [
            ModelFile(
                "encoder",
                str(options.get("encoder_path") or spec.model_path),
                str(options.get("encoder_file", ENCODER_FILE)),
            )
        ]
        head_file = str(options.get("head_file", HEAD_FILE))
        if head_file:
            files.append(ModelFile("head", str(options.get("head_path") or spec.model_path), head_file))
        return files

    @classmethod
    def reuse_key(cls, spec: ModelSpec) -> tuple[Any, ...] | None:
        """The encoder identity (`image_embedder.encoder_key`) when stored unit vectors of it can
        replace the encoder: a separate head fed L2-normalised embeddings. None otherwise."""
        options = spec.options
        if not options.get("head_file", HEAD_FILE) or not options.get("normalize_embedding", True):
            return None
        source = str(options.get("encoder_path") or spec.model_path)
        return encoder_key(
            source, str(options.get("encoder_file", ENCODER_FILE)), options, options.get("encoder_output")
        )

    def score_embeddings(self, embeddings: np.ndarray) -> list[AnnotationResult]:
        """Scores from stored unit vectors of this scorer's encoder: the head alone runs."""
        self.load()
        if self._head is None:
            raise ModelLoadError(f"model {self.name!r} has no separate head to score embeddings with")
        vectors = np.asarray(embeddings, np.float32).reshape(len(embeddings), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        scores = self._head(vectors / np.maximum(norms, 1e-12)).reshape(len(vectors), -1)
        return self._results(scores[:, int(self.option("score_column", -1))])

    def _results(self, scores: np.ndarray) -> list[AnnotationResult]:
        scale = float(self.option("score_scale_max", 10.0))
        kind = str(self.option("score_kind", "aesthetic"))
        return [
            AnnotationResult(self.name, score=float(score), score_kind=kind, score_scale_max=scale)
            for score in scores
        ]

    def _load_head(self, path: Path) -> MlpHead | _OnnxHead:
        if path.suffix.lower() in TORCH_SUFFIXES:
            try:
                return mlp_from_state_dict(
                    read_state_dict(path),
                    relu=bool(self.option("head_relu", False)),
                    sigmoid=bool(self.option("head_sigmoid", False)),
                )
            except StateDictError as exc:
                raise ModelLoadError(f"model {self.name!r}: head {path.name}: {exc}") from exc
        return _OnnxHead(self.session_cache.get(path, self.device, self.threads))

    def load(self) -> None:
        if self._runner is not None:
            return
        try:
            preprocess = Preprocess.from_options(self.spec.options, CLIP_PREPROCESS)
        except ValueError as exc:
            raise ModelLoadError(f"model {self.name!r}: {exc}") from exc
        self.files = self.install()
        head = self._load_head(self.files["head"]) if "head" in self.files else None
        encoder = self.session_cache.get(self.files["encoder"], self.device, self.threads)
        image_input = read_image_input(
            encoder,
            self.name,
            layout=self.option("layout", None),
            input_size=self.option("input_size", None),
            default_size=DEFAULT_CLIP_SIZE,
        )
        wanted = head.input_width if head is not None else None
        output, width = select_output(
            encoder,
            self.name,
            name=self.option("encoder_output", None),
            width=wanted,
            prefer=(EMBEDDING_OUTPUT,) if head is not None else (),
        )
        runner = SessionRunner(encoder, image_input, [output], io_binding=self.option("io_binding", None))
        if wanted is not None:
            if width is None:  # symbolic in the export: ask the model itself
                width = int(runner.probe()[0].reshape(1, -1).shape[1])
            if width != wanted:
                raise ModelLoadError(
                    f"model {self.name!r}: encoder output {output} is {width} wide but the head takes "
                    f"{wanted}; the head was trained on another CLIP"
                )
        self._head, self._preprocess = head, preprocess
        self.execution_provider = runner.provider
        self._runner = runner

    def unload(self) -> None:
        for path in self.files.values():
            self.session_cache.release(path)
        self._runner = self._head = None

    def draft(self, image: Image.Image) -> None:
        if self._runner is not None:  # the input size is known once loaded; decode threads never load
            draft(image, self._runner.input.size, self._preprocess.draft_side)

    def prepare(self, images: Sequence[Image.Image]) -> PreparedBatch:
        self.load()
        runner = cast(SessionRunner, self._runner)
        size, layout, dtype = runner.input.size, runner.input.layout, runner.input.dtype
        return prepare_each(
            images,
            lambda image: self._preprocess.image_array(image, size),
            lambda arrays: self._preprocess.batch(arrays, layout, dtype),
        )

    def annotate_prepared(self, prepared: PreparedBatch) -> list[AnnotationResult]:
        self.load()
        scored = self._results(self.score(prepared.tensor)) if prepared.tensor is not None else []
        return [
            AnnotationResult(self.name, failure=prepared.failures[index]) if row is None else scored[row]
            for index, row in enumerate(prepared.rows)
        ]

    def annotate_batch(self, images: Sequence[Image.Image]) -> list[AnnotationResult]:
        return self.annotate_prepared(self.prepare(images))

    def score(self, pixels: np.ndarray) -> np.ndarray:
        """Encoder then head on an already preprocessed batch; one float per image."""
        runner = cast(SessionRunner, self._runner)
        output = runner.run(pixels)[0].reshape(len(pixels), -1)
        if self._head is not None:
            if self.option("normalize_embedding", True):
                norms = np.linalg.norm(output, axis=1, keepdims=True)
                output = output / np.maximum(norms, 1e-12)
            output = self._head(output).reshape(len(pixels), -1)
        return output[:, int(self.option("score_column", -1))]
