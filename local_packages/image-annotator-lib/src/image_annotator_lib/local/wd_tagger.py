"""SmilingWolf's WD taggers: `model.onnx` + `selected_tags.csv`, sigmoid outputs per tag.

Every tag at or above the storage floor is returned with its confidence, so the app can re-apply
thresholds later without the model; `accepted` says whether it passes this run's thresholds.
The highest rating becomes `AnnotationResult.rating`, never a tag.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, cast

import numpy as np
import onnxruntime as ort
from PIL import Image

from image_annotator_lib.core.base import ModelSpec
from image_annotator_lib.core.types import AnnotationResult, TagCategory, TagPrediction
from image_annotator_lib.exceptions import ModelLoadError
from image_annotator_lib.local.base import LocalOnnxAnnotator, PreparedBatch, prepare_each
from image_annotator_lib.local.preprocessing import Layout, draft, wd_tensor
from image_annotator_lib.local.session_cache import SessionCache

MODEL_FILE = "model.onnx"
TAGS_FILE = "selected_tags.csv"
CATEGORIES: dict[int, TagCategory] = {
    0: "general",
    1: "artist",
    3: "copyright",
    4: "character",
    5: "meta",
    9: "rating",
}
DEFAULT_INPUT_SIZE = 448
CHARACTER_MCUT_MINIMUM = 0.15


@dataclass(frozen=True)
class TagTable:
    names: list[str]
    categories: np.ndarray  # int codes, as in the CSV

    def __len__(self) -> int:
        return len(self.names)


def load_tag_table(path: Path) -> TagTable:
    """Read `selected_tags.csv` (`tag_id,name,category,count`)."""
    names: list[str] = []
    codes: list[int] = []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                names.append(row["name"])
                codes.append(int(row["category"]))
    except (OSError, KeyError, ValueError) as exc:
        raise ModelLoadError(f"cannot read tag list {path}: {exc}") from exc
    if not names:
        raise ModelLoadError(f"tag list {path} is empty")
    return TagTable(names, np.asarray(codes, dtype=np.int32))


def mcut_threshold(probabilities: np.ndarray) -> float:
    """Maximum Cut Thresholding: the midpoint of the largest gap between sorted confidences."""
    if probabilities.size < 2:
        return 0.0
    ordered = np.sort(probabilities)[::-1]
    gaps = ordered[:-1] - ordered[1:]
    cut = int(np.argmax(gaps))
    return float((ordered[cut] + ordered[cut + 1]) / 2)


class WDTagger(LocalOnnxAnnotator):
    kind = "tagger"
    default_files: ClassVar[tuple[str, ...]] = (MODEL_FILE, TAGS_FILE)

    def __init__(self, spec: ModelSpec, session_cache: SessionCache | None = None) -> None:
        super().__init__(spec, session_cache)
        self._session: ort.InferenceSession | None = None
        self._tags: TagTable | None = None
        self._input_name = ""
        self._layout: Layout = "NHWC"
        self._size = DEFAULT_INPUT_SIZE

    def load(self) -> None:
        if self._session is not None:
            return
        self.files = self.install()
        session = self.session_cache.get(self.files[MODEL_FILE], self.device)
        tags = load_tag_table(self.files[TAGS_FILE])
        model_input = session.get_inputs()[0]
        shape = list(model_input.shape)
        if len(shape) != 4:
            raise ModelLoadError(f"model {self.name!r}: expected a 4-D image input, got shape {shape}")
        if shape[3] == 3:
            self._layout, size = "NHWC", shape[1]
        elif shape[1] == 3:
            self._layout, size = "NCHW", shape[2]
        else:
            raise ModelLoadError(f"model {self.name!r}: cannot tell the channel axis of input {shape}")
        self._size = size if isinstance(size, int) else int(self.option("input_size", DEFAULT_INPUT_SIZE))
        outputs = session.get_outputs()[0].shape
        if isinstance(outputs[-1], int) and outputs[-1] != len(tags):
            raise ModelLoadError(
                f"model {self.name!r}: {outputs[-1]} outputs but {len(tags)} tags in {TAGS_FILE}"
            )
        self._input_name = model_input.name
        self._tags = tags
        self._session = session

    def unload(self) -> None:
        if self.files:
            self.session_cache.release(self.files[MODEL_FILE])
        self._session = None

    @property
    def input_size(self) -> int:
        return self._size

    @property
    def layout(self) -> Layout:
        return self._layout

    def draft(self, image: Image.Image) -> None:
        if self._session is not None:  # the input size is known once loaded; decode threads never load
            draft(image, self._size, "longer")

    def prepare(self, images: Sequence[Image.Image]) -> PreparedBatch:
        self.load()
        return prepare_each(images, lambda image: wd_tensor(image, self._size), self._layout)

    def annotate_prepared(self, prepared: PreparedBatch) -> list[AnnotationResult]:
        self.load()
        probabilities = None
        if prepared.tensor is not None:
            session = cast(ort.InferenceSession, self._session)
            probabilities = session.run(None, {self._input_name: prepared.tensor})[0]
        results = []
        for index, row in enumerate(prepared.rows):
            if row is None or probabilities is None:
                results.append(AnnotationResult(self.name, failure=prepared.failures[index]))
            else:
                results.append(self.postprocess(np.asarray(probabilities[row], dtype=np.float32)))
        return results

    def annotate_batch(self, images: Sequence[Image.Image]) -> list[AnnotationResult]:
        return self.annotate_prepared(self.prepare(images))

    def postprocess(self, probabilities: np.ndarray) -> AnnotationResult:
        """Rating apart; tags above the floor with confidence, category and acceptance."""
        tags = cast(TagTable, self._tags)
        codes = tags.categories
        result = AnnotationResult(self.name)
        rating_rows = np.flatnonzero(codes == 9)
        if rating_rows.size:
            best = int(rating_rows[np.argmax(probabilities[rating_rows])])
            result.rating = tags.names[best]
            result.rating_confidence = float(probabilities[best])
        general_threshold = float(self.option("general_threshold", 0.35))
        if self.option("general_mcut", False):
            general_threshold = mcut_threshold(probabilities[codes == 0])
        character_threshold = float(self.option("character_threshold", 0.85))
        if self.option("character_mcut", False):
            character_threshold = max(CHARACTER_MCUT_MINIMUM, mcut_threshold(probabilities[codes == 4]))
        floor = float(self.option("storage_floor", 0.1))
        kept = np.flatnonzero((probabilities >= floor) & (codes != 9))
        for row in kept[np.argsort(-probabilities[kept], kind="stable")]:
            category = CATEGORIES.get(int(codes[row]), "general")
            confidence = float(probabilities[row])
            threshold = character_threshold if category == "character" else general_threshold
            result.tags.append(TagPrediction(tags.names[row], confidence, category, confidence >= threshold))
        return result
