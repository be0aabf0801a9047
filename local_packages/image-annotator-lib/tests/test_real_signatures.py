"""Taggers adapt to the export's signature: fixed batch, layout from any axes, outputs by name or
shape, and a model that cannot fit fails at load with one message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from real_signatures import build_linear_tagger, expected_probabilities, write_wd_csv

from image_annotator_lib.core.base import ModelSpec
from image_annotator_lib.exceptions import ModelLoadError
from image_annotator_lib.local.signature import guess_layout
from image_annotator_lib.local.wd_tagger import WDTagger

RNG = np.random.default_rng(7)
WEIGHTS = (RNG.normal(0, 4, (3, 12)) / 255).astype(np.float32)  # on 0..255 means: logits of a few units
BIAS = RNG.normal(0, 1, 12).astype(np.float32)
TAGS = [(f"tag_{i}", 0) for i in range(10)] + [("general", 9), ("explicit", 9)]


def wd_folder(tmp_path: Path, **model: object) -> Path:
    folder = tmp_path / "model"
    build_linear_tagger(folder / "model.onnx", WEIGHTS, BIAS, **model)  # type: ignore[arg-type]
    write_wd_csv(folder / "selected_tags.csv", TAGS)
    return folder


def tagger(folder: Path, **options: object) -> WDTagger:
    return WDTagger(ModelSpec("t", "WDTagger", str(folder), options={"storage_floor": 0.0, **options}))


def colours(n: int) -> list[tuple[int, int, int]]:
    return [tuple(int(v) for v in RNG.integers(0, 256, 3)) for _ in range(n)]  # type: ignore[misc]


def wd_means(colour: tuple[int, int, int]) -> np.ndarray:
    """What a WD model receives from a solid image: BGR, 0..255."""
    return np.array(colour[::-1], dtype=np.float64)


def confidences(result: object) -> dict[str, float]:
    return {tag.name: tag.confidence for tag in result.tags}  # type: ignore[attr-defined]


@pytest.mark.parametrize("fixed_batch", [1, 4])
def test_fixed_batch_tags_every_image_like_one_at_a_time(tmp_path: Path, fixed_batch: int) -> None:
    folder = wd_folder(tmp_path, batch=fixed_batch)
    model = tagger(folder)
    palette = colours(11)
    images = [Image.new("RGB", (16, 16), colour) for colour in palette]
    batch = model.annotate_batch(images[:8])  # the app's default batch size
    batch += model.annotate_batch(images[8:])
    assert all(result.ok for result in batch)
    for image, colour, result in zip(images, palette, batch, strict=True):
        [alone] = model.annotate_batch([image])
        assert confidences(result) == pytest.approx(confidences(alone), abs=1e-6)
        expected = expected_probabilities(wd_means(colour), WEIGHTS.astype(np.float64), BIAS)
        names = [name for name, _ in TAGS]
        ratings = {"general": expected[10], "explicit": expected[11]}
        assert result.rating == max(ratings, key=ratings.get)  # type: ignore[arg-type]
        for name, confidence in confidences(result).items():
            assert confidence == pytest.approx(expected[names.index(name)], abs=1e-4)


@pytest.mark.parametrize(
    ("shape", "layout"),
    [
        (["batch_size", "num_channels", "height", "width"], "NCHW"),
        (["N", 448, 448, 3], "NHWC"),
        ([1, 3, 512, 512], "NCHW"),
        (["b", "h", "w", "channels"], "NHWC"),
        (["b", "c", 224, 224], "NCHW"),
        (["b", 224, 224, "c"], "NHWC"),
        (["b", "x", "y", "z"], None),
    ],
)
def test_layout_from_numeric_or_symbolic_axes(shape: list[object], layout: str | None) -> None:
    assert guess_layout(shape) == layout  # type: ignore[arg-type]


def test_symbolic_axes_nchw_model_with_size_from_the_spec(tmp_path: Path) -> None:
    folder = wd_folder(tmp_path, layout="NCHW", size="height", channel_dim="num_channels")
    model = tagger(folder, input_size=24)
    model.load()
    assert (model.layout, model.input_size) == ("NCHW", 24)
    [result] = model.annotate_batch([Image.new("RGB", (40, 30), (10, 200, 30))])
    assert result.ok


def test_a_fixed_input_size_wins_over_the_spec(tmp_path: Path) -> None:
    model = tagger(wd_folder(tmp_path, size=16), input_size=512)
    model.load()
    assert model.input_size == 16


def test_output_chosen_by_width_among_several(tmp_path: Path) -> None:
    folder = wd_folder(tmp_path, outputs=("output",), extra_outputs=[("embedding", 7)])
    [result] = tagger(folder).annotate_batch([Image.new("RGB", (16, 16), (200, 10, 10))])
    expected = expected_probabilities(wd_means((200, 10, 10)), WEIGHTS.astype(np.float64), BIAS)
    assert confidences(result)["tag_0"] == pytest.approx(expected[0], abs=1e-4)


def test_two_outputs_of_the_label_width_need_a_name(tmp_path: Path) -> None:
    folder = wd_folder(tmp_path, outputs=("logits", "prediction"))
    with pytest.raises(ModelLoadError, match="set output_name"):
        tagger(folder).load()
    [result] = tagger(folder, output_name="prediction").annotate_batch(
        [Image.new("RGB", (16, 16), (1, 2, 3))]
    )
    assert result.ok


def test_wrong_label_count_is_one_clear_load_error(tmp_path: Path) -> None:
    folder = wd_folder(tmp_path)
    write_wd_csv(folder / "selected_tags.csv", TAGS[:-1])
    model = tagger(folder)
    with pytest.raises(ModelLoadError, match=r"12 columns but selected_tags.csv lists 11 tags"):
        model.load()


def test_wrong_label_count_behind_a_symbolic_width_is_caught_at_load(tmp_path: Path) -> None:
    folder = wd_folder(tmp_path, output_width="num_tags")
    write_wd_csv(folder / "selected_tags.csv", [*TAGS, ("extra", 0)])
    with pytest.raises(ModelLoadError, match=r"12 columns but selected_tags.csv lists 13 tags"):
        tagger(folder).load()


def test_missing_labels_file_is_a_load_error(tmp_path: Path) -> None:
    folder = wd_folder(tmp_path)
    (folder / "selected_tags.csv").unlink()
    with pytest.raises(ModelLoadError, match=r"lacks selected_tags\.csv"):
        tagger(folder).load()


def test_bad_preprocessing_key_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="value_range"):
        tagger(wd_folder(tmp_path), value_range="0..2").load()
