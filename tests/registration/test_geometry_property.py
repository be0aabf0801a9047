"""Property tests over the whole geometry: every size 1..20000, every target resolution, upscale on
and off, every mode a decoder yields. The crop, bucket and pad arithmetic must never raise and must
always give the size the rules promise (a 1196x1667 photo once stopped whole runs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from image_annotator_lib.local.preprocessing import (
    CLIP_PREPROCESS,
    REDUCING_GAP,
    WD_PREPROCESS,
    pad_resize,
    pad_to_square,
)
from lorairo.storage.imaging import BUCKET_STEP, bucket_size, crop_box, resize_to_bucket, to_rgb
from lorairo.storage.render import ProcessedCopy, render_stored

SIDES = st.integers(1, 20000)
RESOLUTIONS = st.sampled_from([64, 256, 512, 768, 1024, 1280, 1536, 2048])
# Modes Pillow's JPEG, PNG, WebP, BMP, TIFF and GIF decoders produce.
MODES = st.sampled_from(
    ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "I", "I;16", "I;16B", "F"]
)
MAX_AREA = 600_000  # real pixels per example; the arithmetic alone runs over the full range


@st.composite
def shapes(draw: st.DrawFn) -> tuple[int, int]:
    """Any aspect ratio up to 20000:1, with an area small enough to allocate."""
    long_side = draw(SIDES)
    short_side = draw(st.integers(1, max(1, min(long_side, MAX_AREA // long_side))))
    return (long_side, short_side) if draw(st.booleans()) else (short_side, long_side)


def assert_bucket_rules(size: tuple[int, int], resolution: int) -> None:
    width, height = size
    assert width % BUCKET_STEP == 0 and height % BUCKET_STEP == 0
    assert BUCKET_STEP <= width <= max(resolution, BUCKET_STEP)
    assert BUCKET_STEP <= height <= max(resolution, BUCKET_STEP)


@given(width=SIDES, height=SIDES, resolution=RESOLUTIONS, upscale=st.booleans())
@example(width=1196, height=1667, resolution=1024, upscale=False)  # the size that stopped real runs
def test_bucket_and_crop_box_hold_for_every_size(
    width: int, height: int, resolution: int, upscale: bool
) -> None:
    size = bucket_size(width, height, resolution, upscale=upscale)
    assert_bucket_rules(size, resolution)
    left, top, right, bottom = crop_box(width, height, size)
    assert 0 <= left < right <= width and 0 <= top < bottom <= height
    # One axis is always the whole side, exactly; the box keeps the bucket's aspect ratio.
    assert (left, right) == (0, width) or (top, bottom) == (0, height)
    assert abs((right - left) * size[1] - (bottom - top) * size[0]) <= 1e-6 * max(size) * max(width, height)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=shapes(), resolution=RESOLUTIONS, upscale=st.booleans(), mode=MODES)
@example(shape=(1196, 1667), resolution=1024, upscale=False, mode="RGB")
@example(shape=(1, 20000), resolution=1024, upscale=True, mode="P")
def test_resize_to_bucket_never_raises_and_returns_the_bucket(
    shape: tuple[int, int], resolution: int, upscale: bool, mode: str
) -> None:
    size = bucket_size(*shape, resolution, upscale=upscale)
    result = resize_to_bucket(to_rgb(Image.new(mode, shape)), size)
    assert result.size == size and result.mode == "RGB"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.tuples(st.integers(1, 3000), st.integers(1, 3000)),
    resolution=RESOLUTIONS,
    upscale=st.booleans(),
    encoding=st.sampled_from(["JPEG", "PNG", "WEBP", "GIF", "TIFF"]),
)
def test_render_stored_writes_the_bucket_for_any_stored_original(
    tmp_path: Path, shape: tuple[int, int], resolution: int, upscale: bool, encoding: str
) -> None:
    """Export re-renders from stored originals through this path: any size, any stored format."""
    if shape[0] * shape[1] > MAX_AREA:
        shape = (shape[0], max(1, MAX_AREA // shape[0]))
    source = tmp_path / f"original.{encoding.lower()}"
    pixels = np.random.default_rng(shape[0] * 7 + shape[1]).integers(
        0, 256, (shape[1], shape[0], 3), np.uint8
    )
    Image.fromarray(pixels).save(source, format=encoding)
    target = tmp_path / "out" / "copy"
    result = render_stored(str(source), str(target), resolution, upscale, 10**9)
    assert isinstance(result, ProcessedCopy)
    expected = bucket_size(*shape, resolution, upscale=upscale)
    assert (result.width, result.height) == expected
    with Image.open(target) as written:
        assert written.size == expected


@settings(max_examples=40, deadline=None)
@given(shape=shapes(), size=st.sampled_from([224, 336, 384, 448, 512]), mode=MODES)
@example(shape=(1, 20000), size=448, mode="RGB")
@example(shape=(20000, 1), size=448, mode="LA")
@example(shape=(449, 448), size=448, mode="RGB")
def test_wd_and_clip_preprocessing_give_the_model_input_for_any_shape(
    shape: tuple[int, int], size: int, mode: str
) -> None:
    image = Image.new(mode, shape)
    assert pad_resize(to_rgb(image), size).size == (size, size)
    for preprocess in (WD_PREPROCESS, CLIP_PREPROCESS):
        batch = preprocess.batch([preprocess.image_array(image, size)], "NHWC")
        assert batch.shape == (1, size, size, 3)
        assert np.isfinite(batch).all()


@settings(max_examples=30, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 3000), st.integers(1, 3000)),
    size=st.sampled_from([8, 64, 224, 448]),
    fill=st.sampled_from([(255, 255, 255), (0, 0, 0), (124, 116, 104)]),
)
@example(shape=(1600, 900), size=8, fill=(255, 255, 255))
@example(shape=(3, 2999), size=100, fill=(0, 0, 0))
def test_pad_resize_is_pad_then_resize_pixel_for_pixel_on_large_reductions(
    shape: tuple[int, int], size: int, fill: tuple[int, int, int]
) -> None:
    """The shortcut that avoids building the padded square must not change a single pixel."""
    image = Image.fromarray(
        np.random.default_rng(shape[0] + shape[1]).integers(0, 256, (shape[1], shape[0], 3), np.uint8)
    )
    assume(max(shape) >= 6 * size)  # below that, the banded path: covered by the library's own tests
    reference = pad_to_square(image, fill).resize(
        (size, size), Image.Resampling.BICUBIC, reducing_gap=REDUCING_GAP
    )
    assert np.array_equal(np.asarray(pad_resize(image, size, fill)), np.asarray(reference))
