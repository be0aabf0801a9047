"""WD tagger preprocessing and post-processing, proven through real ONNX Runtime sessions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from image_annotator_lib.core.base import ModelSpec
from image_annotator_lib.local.preprocessing import flatten_alpha
from image_annotator_lib.local.wd_tagger import WDTagger, mcut_threshold
from tests.annotation.onnx_builders import build_colour_tagger, build_pixel_tagger, pixels_seen

WHITE_BGR = [255, 255, 255]
RED_BGR = [0, 0, 255]


def tagger(folder: Path, **options: object) -> WDTagger:
    return WDTagger(ModelSpec("t", "WDTagger", str(folder), options=dict(options)))


@pytest.fixture(params=["NHWC", "NCHW"])
def layout(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_red_reaches_the_model_as_bgr(tmp_path: Path, layout: str) -> None:
    model = tagger(build_colour_tagger(tmp_path, layout=layout))
    red, blue = model.annotate_batch(
        [Image.new("RGB", (16, 16), (255, 0, 0)), Image.new("RGB", (16, 16), (0, 0, 255))]
    )
    assert model.layout == layout
    assert {t.name for t in red.tags} >= {"red_thing", "hatsune_miku"}
    assert "blue_thing" not in {t.name for t in red.tags}
    assert {t.name for t in blue.tags} >= {"blue_thing"}
    assert "red_thing" not in {t.name for t in blue.tags}


def test_input_size_is_read_from_the_session(tmp_path: Path, layout: str) -> None:
    model = tagger(build_pixel_tagger(tmp_path, layout=layout, size=8), storage_floor=0.0)
    [result] = model.annotate_batch([Image.new("RGB", (40, 40), (10, 20, 30))])
    seen = pixels_seen(result.tags, 8)
    assert model.input_size == 8
    assert np.allclose(seen, [30, 20, 10], atol=0.01)


def test_wide_image_is_centred_on_white(tmp_path: Path, layout: str) -> None:
    model = tagger(build_pixel_tagger(tmp_path, layout=layout), storage_floor=0.0)
    [result] = model.annotate_batch([Image.new("RGB", (8, 4), (255, 0, 0))])
    seen = pixels_seen(result.tags)
    assert np.allclose(seen[[0, 1, 6, 7]], WHITE_BGR)
    assert np.allclose(seen[2:6], RED_BGR)


def test_tall_image_is_centred_on_white(tmp_path: Path) -> None:
    model = tagger(build_pixel_tagger(tmp_path), storage_floor=0.0)
    [result] = model.annotate_batch([Image.new("RGB", (4, 8), (255, 0, 0))])
    seen = pixels_seen(result.tags)
    assert np.allclose(seen[:, [0, 1, 6, 7]], WHITE_BGR)
    assert np.allclose(seen[:, 2:6], RED_BGR)


def test_transparency_is_composited_on_white(tmp_path: Path, layout: str) -> None:
    image = Image.new("RGBA", (8, 8), (255, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, 4, 8))  # left half fully transparent black
    model = tagger(build_pixel_tagger(tmp_path, layout=layout), storage_floor=0.0)
    [result] = model.annotate_batch([image])
    seen = pixels_seen(result.tags)
    assert np.allclose(seen[:, :4], WHITE_BGR)
    assert np.allclose(seen[:, 4:], RED_BGR)


def test_palette_and_grey_alpha_images_are_flattened_on_white() -> None:
    palette = Image.new("P", (2, 1))
    palette.putpalette([0, 0, 0, 255, 0, 0])
    palette.putpixel((1, 0), 1)
    palette.info["transparency"] = 0
    flat = flatten_alpha(palette)
    assert [flat.getpixel((0, 0)), flat.getpixel((1, 0))] == [(255, 255, 255), (255, 0, 0)]
    grey = Image.new("LA", (1, 1), (0, 0))
    assert flatten_alpha(grey).getpixel((0, 0)) == (255, 255, 255)


def test_thresholds_apply_per_category_and_floor_limits_storage(tmp_path: Path) -> None:
    folder = build_colour_tagger(tmp_path)
    red = Image.new("RGB", (16, 16), (255, 0, 0))
    [default] = tagger(folder).annotate_batch([red])
    by_name = {t.name: t for t in default.tags}
    assert by_name["hatsune_miku"].category == "character"
    assert by_name["hatsune_miku"].confidence == pytest.approx(0.9, abs=1e-5)
    assert by_name["hatsune_miku"].accepted  # 0.9 >= character 0.85
    assert not by_name["mid_(tag)"].accepted  # 0.3 < general 0.35, but stored
    assert "faint" not in by_name  # 0.05 < storage floor 0.1

    [strict] = tagger(
        folder, character_threshold=0.95, general_threshold=0.25, storage_floor=0.01
    ).annotate_batch([red])
    by_name = {t.name: t for t in strict.tags}
    assert not by_name["hatsune_miku"].accepted
    assert by_name["mid_(tag)"].accepted
    assert by_name["faint"].confidence == pytest.approx(0.05, abs=1e-5)


def test_rating_is_returned_apart_from_tags(tmp_path: Path) -> None:
    model = tagger(build_colour_tagger(tmp_path))
    red, blue = model.annotate_batch(
        [Image.new("RGB", (16, 16), (255, 0, 0)), Image.new("RGB", (16, 16), (0, 0, 255))]
    )
    assert (red.rating, blue.rating) == ("general", "explicit")
    assert red.rating_confidence == pytest.approx(1.0)
    assert all(t.category != "rating" for t in red.tags + blue.tags)
    assert {"general", "explicit"}.isdisjoint(t.name for t in red.tags + blue.tags)


def test_tags_come_sorted_by_confidence(tmp_path: Path) -> None:
    [result] = tagger(build_colour_tagger(tmp_path)).annotate_batch(
        [Image.new("RGB", (16, 16), (200, 60, 0))]
    )
    confidences = [t.confidence for t in result.tags]
    assert confidences == sorted(confidences, reverse=True)


def test_mcut_splits_at_the_largest_gap(tmp_path: Path) -> None:
    assert mcut_threshold(np.array([0.1, 0.9, 0.2, 0.8])) == pytest.approx(0.5)
    [result] = tagger(build_colour_tagger(tmp_path), general_mcut=True).annotate_batch(
        [Image.new("RGB", (16, 16), (255, 0, 0))]
    )
    accepted = {t.name for t in result.tags if t.accepted and t.category == "general"}
    assert accepted == {"red_thing"}  # the gap between 1.0 and 0.3 decides, not 0.35


def test_broken_image_fails_alone(tmp_path: Path) -> None:
    path = tmp_path / "truncated.png"
    Image.new("RGB", (64, 64), (255, 0, 0)).save(path)
    path.write_bytes(path.read_bytes()[:60])
    broken = Image.open(path)  # lazy: decoding fails only when the tagger converts it
    model = tagger(build_colour_tagger(tmp_path / "model"))
    good, bad = model.annotate_batch([Image.new("RGB", (16, 16), (255, 0, 0)), broken])
    assert good.ok and "red_thing" in {t.name for t in good.tags}
    assert bad.failure is not None and bad.failure.kind == "unreadable_image"


def test_tag_list_must_match_the_model(tmp_path: Path) -> None:
    from image_annotator_lib.exceptions import ModelLoadError

    folder = build_colour_tagger(tmp_path)
    lines = (folder / "selected_tags.csv").read_text().splitlines()
    (folder / "selected_tags.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(ModelLoadError, match=r"10 columns but selected_tags\.csv lists 9 tags"):
        tagger(folder).load()
