"""Image embedders: a CLIP/SigLIP vision ONNX export whose output is one vector per image, and
optionally the matching text encoder, so images can be found by similarity or by words.

The vision export comes from `model_path` / `model_file` (default optimum's
`onnx/vision_model.onnx`). The output is chosen as the aesthetic scorer chooses its encoder's:
`output_name` if set, else `image_embeds` (transformers' projected embedding), else the only 2-D
output. Vectors are L2-normalised, so a dot product is the cosine similarity.

Text search needs `text_encoder_file` (e.g. `onnx/text_model.onnx`; from `text_encoder_path`,
default `model_path`) and `tokenizer_file` (a Hugging Face `tokenizer.json`, read with the
`tokenizers` package). The text output is `text_output` if set, else `text_embeds`, else the only
2-D output; the token length is the export's fixed one, else `max_length` (77, CLIP's).
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
from image_annotator_lib.local.preprocessing import CLIP_PREPROCESS, Preprocess, draft
from image_annotator_lib.local.session_cache import SessionCache
from image_annotator_lib.local.signature import (
    SessionRunner,
    describe_outputs,
    read_image_input,
    select_output,
)

VISION_FILE = "onnx/vision_model.onnx"
IMAGE_OUTPUT = "image_embeds"
TEXT_OUTPUT = "text_embeds"
DEFAULT_SIZE = 224
CLIP_CONTEXT = 77
PAD_TOKENS = ("<|endoftext|>", "<pad>", "[PAD]")


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return cast(np.ndarray, vectors / np.maximum(norms, 1e-12))


def encoder_key(source: str, filename: str, options: dict[str, Any], output: str | None) -> tuple[Any, ...]:
    """What makes two specs' vision encoders give the same vector: the file, the preprocessing and
    the output read. A scorer whose key equals an embedder's may score from the stored vectors."""
    preprocess = Preprocess.from_options(options, CLIP_PREPROCESS)
    return (source, filename, preprocess, options.get("input_size"), output or IMAGE_OUTPUT)


class TextEncoder:
    """A CLIP text tower and its tokenizer: words in, unit vectors out."""

    def __init__(
        self, session: ort.InferenceSession, tokenizer_path: Path, model_name: str, options: dict
    ) -> None:
        from tokenizers import Tokenizer  # imported here: only text search needs it

        self.session = session
        inputs = {model_input.name: model_input for model_input in session.get_inputs()}
        if "input_ids" not in inputs:
            raise ModelLoadError(
                f"model {model_name!r}: the text encoder has no input_ids input (inputs: {', '.join(inputs)})"
            )
        self.with_mask = "attention_mask" in inputs
        length = inputs["input_ids"].shape[-1]
        self.length = (
            length if isinstance(length, int) and length > 0 else int(options.get("max_length", CLIP_CONTEXT))
        )
        self.output, _ = select_output(
            session, model_name, name=options.get("text_output"), prefer=(TEXT_OUTPUT,)
        )
        try:
            self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        except Exception as exc:  # the tokenizers package raises its own Exception type
            raise ModelLoadError(f"model {model_name!r}: tokenizer {tokenizer_path.name}: {exc}") from exc
        pad_id = next(
            (
                self.tokenizer.token_to_id(token)
                for token in PAD_TOKENS
                if self.tokenizer.token_to_id(token) is not None
            ),
            0,
        )
        self.tokenizer.enable_truncation(self.length)
        self.tokenizer.enable_padding(length=self.length, pad_id=pad_id)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised row per text."""
        encodings = self.tokenizer.encode_batch(list(texts))
        feed = {"input_ids": np.array([e.ids for e in encodings], np.int64)}
        if self.with_mask:
            feed["attention_mask"] = np.array([e.attention_mask for e in encodings], np.int64)
        output = self.session.run([self.output], feed)[0]
        return l2_normalise(np.asarray(output, np.float32).reshape(len(texts), -1))


class ImageEmbedder(LocalOnnxAnnotator):
    kind = "embedder"

    def __init__(self, spec: ModelSpec, session_cache: SessionCache | None = None) -> None:
        super().__init__(spec, session_cache)
        self._runner: SessionRunner | None = None
        self._preprocess = CLIP_PREPROCESS
        self._text: TextEncoder | None = None
        self.dimensions: int | None = None

    @classmethod
    def own_files(cls, spec: ModelSpec) -> list[ModelFile]:
        options = spec.options
        files = [ModelFile("model", spec.model_path, str(options.get("model_file", VISION_FILE)))]
        text_source = str(options.get("text_encoder_path") or spec.model_path)
        if options.get("text_encoder_file"):
            files.append(ModelFile("text_encoder", text_source, str(options["text_encoder_file"])))
            files.append(
                ModelFile("tokenizer", text_source, str(options.get("tokenizer_file", "tokenizer.json")))
            )
        return files

    @classmethod
    def reuse_key(cls, spec: ModelSpec) -> tuple[Any, ...]:
        options = spec.options
        return encoder_key(
            spec.model_path, str(options.get("model_file", VISION_FILE)), options, options.get("output_name")
        )

    @property
    def has_text(self) -> bool:
        return bool(self.spec.options.get("text_encoder_file"))

    def load(self) -> None:
        if self._runner is not None:
            return
        try:
            preprocess = Preprocess.from_options(self.spec.options, CLIP_PREPROCESS)
        except ValueError as exc:
            raise ModelLoadError(f"model {self.name!r}: {exc}") from exc
        self.files = self.install()
        session = self.session_cache.get(self.files["model"], self.device, self.threads)
        image_input = read_image_input(
            session,
            self.name,
            layout=self.option("layout", None),
            input_size=self.option("input_size", None),
            default_size=DEFAULT_SIZE,
        )
        output, width = select_output(
            session, self.name, name=self.option("output_name", None), prefer=(IMAGE_OUTPUT,)
        )
        runner = SessionRunner(session, image_input, [output], io_binding=self.option("io_binding", None))
        if width is None:  # symbolic in the export: ask the model itself
            width = int(runner.probe()[0].reshape(1, -1).shape[1])
        self._preprocess, self.dimensions = preprocess, width
        self.execution_provider = runner.provider
        self._runner = runner

    def unload(self) -> None:
        for path in self.files.values():
            self.session_cache.release(path)
        self._runner = self._text = None

    def draft(self, image: Image.Image) -> None:
        if self._runner is not None:
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
        vectors = None
        if prepared.tensor is not None:
            runner = cast(SessionRunner, self._runner)
            vectors = l2_normalise(runner.run(prepared.tensor)[0].reshape(len(prepared.tensor), -1))
        results = []
        for index, row in enumerate(prepared.rows):
            if row is None or vectors is None:
                results.append(AnnotationResult(self.name, failure=prepared.failures[index]))
            else:
                results.append(AnnotationResult(self.name, embedding=vectors[row]))
        return results

    def annotate_batch(self, images: Sequence[Image.Image]) -> list[AnnotationResult]:
        return self.annotate_prepared(self.prepare(images))

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors for `texts` in the images' space; needs `text_encoder_file`."""
        if not self.has_text:
            raise ModelLoadError(
                f"model {self.name!r} has no text encoder; set text_encoder_file and tokenizer_file in its entry"
            )
        if self._text is None:
            self.files = self.install()
            session = self.session_cache.get(self.files["text_encoder"], self.device, self.threads)
            self._text = TextEncoder(session, self.files["tokenizer"], self.name, dict(self.spec.options))
            self.load()
        vectors = self._text.encode(texts)
        if self.dimensions is not None and vectors.shape[1] != self.dimensions:
            raise ModelLoadError(
                f"model {self.name!r}: the text encoder gives {vectors.shape[1]} dimensions but the image "
                f"encoder {self.dimensions} (outputs: {describe_outputs(self._text.session)})"
            )
        return vectors
