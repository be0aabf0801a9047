"""ONNX booru taggers (WD, Z3D, camie, pixai, cl_tagger, idolsankaku, DeepDanbooru): one model
file, one labels file, a confidence per label.

A new tagger family is a spec entry, not code: preprocessing keys (see `Preprocess`), the labels
file and its format, `output_name`, `apply_sigmoid` for exports that return logits. Everything
else comes from the export's signature (`signature.py`). Defaults are SmilingWolf's WD layout.

Every tag at or above the storage floor is returned with its confidence, so the app can re-apply
thresholds later without the model; `accepted` says whether it passes this run's thresholds.
The highest rating becomes `AnnotationResult.rating`, never a tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
from PIL import Image

from image_annotator_lib.core.base import ModelSpec
from image_annotator_lib.core.types import AnnotationResult, TagPrediction
from image_annotator_lib.exceptions import ModelLoadError
from image_annotator_lib.local.base import LocalOnnxAnnotator, ModelFile, PreparedBatch, prepare_each
from image_annotator_lib.local.labels import Labels, LabelsError, labels_format_for, load_labels
from image_annotator_lib.local.preprocessing import WD_PREPROCESS, Preprocess, draft
from image_annotator_lib.local.session_cache import SessionCache
from image_annotator_lib.local.signature import SessionRunner, read_image_input, select_output

MODEL_FILE = "model.onnx"
TAGS_FILE = "selected_tags.csv"
DEFAULT_INPUT_SIZE = 448
CHARACTER_MCUT_MINIMUM = 0.15
DEFAULT_CHUNK = 64  # rows per session.run for free-batch exports: bounds the activations' memory


def mcut_threshold(probabilities: np.ndarray) -> float:
    """Maximum Cut Thresholding: the midpoint of the largest gap between sorted confidences."""
    if probabilities.size < 2:
        return 0.0
    ordered = np.sort(probabilities)[::-1]
    gaps = ordered[:-1] - ordered[1:]
    cut = int(np.argmax(gaps))
    return float((ordered[cut] + ordered[cut + 1]) / 2)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return cast(np.ndarray, 1.0 / (1.0 + np.exp(-np.clip(logits, -60.0, 60.0))))


class WDTagger(LocalOnnxAnnotator):
    kind = "tagger"

    def __init__(self, spec: ModelSpec, session_cache: SessionCache | None = None) -> None:
        super().__init__(spec, session_cache)
        self._runner: SessionRunner | None = None
        self._labels: Labels | None = None
        self._preprocess = WD_PREPROCESS

    @classmethod
    def own_files(cls, spec: ModelSpec) -> list[ModelFile]:
        return [
            ModelFile("model", spec.model_path, str(spec.options.get("model_file", MODEL_FILE))),
            ModelFile("labels", spec.model_path, str(spec.options.get("labels_file", TAGS_FILE))),
        ]

    def load(self) -> None:
        if self._runner is not None:
            return
        try:
            preprocess = Preprocess.from_options(self.spec.options, WD_PREPROCESS)
        except ValueError as exc:
            raise ModelLoadError(f"model {self.name!r}: {exc}") from exc
        self.files = self.install()
        labels_file = self.files["labels"]
        labels_format = str(self.option("labels_format", labels_format_for(labels_file.name)))
        try:
            labels = load_labels(
                labels_file,
                labels_format,
                self.option("categories", None),
                str(self.option("category_codes", "danbooru")),
            )
        except LabelsError as exc:
            raise ModelLoadError(f"model {self.name!r}: labels {labels_file.name}: {exc}") from exc
        session = self.session_cache.get(self.files["model"], self.device, self.threads)
        image_input = read_image_input(
            session,
            self.name,
            layout=self.option("layout", None),
            input_size=self.option("input_size", None),
            default_size=DEFAULT_INPUT_SIZE,
        )
        output, width = select_output(
            session, self.name, name=self.option("output_name", None), width=len(labels)
        )
        runner = SessionRunner(
            session,
            image_input,
            [output],
            chunk_size=int(self.option("chunk_size", DEFAULT_CHUNK)),
            io_binding=self.option("io_binding", None),
        )
        if width is None:  # symbolic in the export: ask the model itself
            width = int(runner.probe()[0].reshape(1, -1).shape[1])
        if width != len(labels):
            raise ModelLoadError(
                f"model {self.name!r}: output {output} has {width} columns but {labels_file.name} lists "
                f"{len(labels)} tags; the labels file does not belong to this model"
            )
        self._labels, self._preprocess = labels, preprocess
        self.execution_provider = runner.provider
        self._runner = runner

    def unload(self) -> None:
        if "model" in self.files:
            self.session_cache.release(self.files["model"])
        self._runner = None

    @property
    def input_size(self) -> int:
        return self._runner.input.size if self._runner else DEFAULT_INPUT_SIZE

    @property
    def layout(self) -> str:
        return self._runner.input.layout if self._runner else "NHWC"

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
        probabilities = None
        if prepared.tensor is not None:
            runner = cast(SessionRunner, self._runner)
            probabilities = runner.run(prepared.tensor)[0].reshape(len(prepared.tensor), -1)
            if self.option("apply_sigmoid", False):
                probabilities = sigmoid(probabilities)
        results = []
        for index, row in enumerate(prepared.rows):
            if row is None or probabilities is None:
                results.append(AnnotationResult(self.name, failure=prepared.failures[index]))
            else:
                results.append(self.postprocess(probabilities[row]))
        return results

    def annotate_batch(self, images: Sequence[Image.Image]) -> list[AnnotationResult]:
        return self.annotate_prepared(self.prepare(images))

    def postprocess(self, probabilities: np.ndarray) -> AnnotationResult:
        """Rating apart; tags above the floor with confidence, category and acceptance."""
        labels = cast(Labels, self._labels)
        result = AnnotationResult(self.name)
        rating = labels.mask("rating")
        rating_rows = np.flatnonzero(rating)
        if rating_rows.size:
            best = int(rating_rows[np.argmax(probabilities[rating_rows])])
            result.rating = labels.names[best]
            result.rating_confidence = float(probabilities[best])
        general_threshold = float(self.option("general_threshold", 0.35))
        if self.option("general_mcut", False):
            general_threshold = mcut_threshold(probabilities[labels.mask("general")])
        character_threshold = float(self.option("character_threshold", 0.85))
        if self.option("character_mcut", False):
            character_threshold = max(
                CHARACTER_MCUT_MINIMUM, mcut_threshold(probabilities[labels.mask("character")])
            )
        floor = float(self.option("storage_floor", 0.1))
        kept = np.flatnonzero((probabilities >= floor) & ~rating)
        for row in kept[np.argsort(-probabilities[kept], kind="stable")]:
            category = labels.categories[row]
            confidence = float(probabilities[row])
            threshold = character_threshold if category == "character" else general_threshold
            result.tags.append(
                TagPrediction(labels.names[row], confidence, category, confidence >= threshold)
            )
        return result
