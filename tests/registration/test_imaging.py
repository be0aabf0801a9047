from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from lorairo.storage.imaging import bucket_size, phash64, resize_to_bucket, to_rgb, to_unsigned64


@given(
    width=st.integers(1, 8000),
    height=st.integers(1, 8000),
    resolution=st.sampled_from([512, 768, 1024]),
    upscale=st.booleans(),
)
def test_bucket_sides_are_multiples_of_64_and_never_exceed_the_target(
    width: int, height: int, resolution: int, upscale: bool
) -> None:
    bucket_w, bucket_h = bucket_size(width, height, resolution, upscale=upscale)
    assert bucket_w % 64 == 0 and bucket_h % 64 == 0
    assert max(bucket_w, bucket_h) <= resolution
    if not upscale and min(width, height) >= 64:
        assert bucket_w <= width and bucket_h <= height
    if upscale or max(width, height) >= resolution:
        assert max(bucket_w, bucket_h) == resolution


def test_bucket_keeps_aspect_ratio_close() -> None:
    assert bucket_size(1600, 1200, 1024) == (1024, 768)
    assert bucket_size(1920, 1080, 1024) == (1024, 576)
    assert bucket_size(600, 400, 1024) == (576, 384)
    assert bucket_size(600, 400, 1024, upscale=True) == (1024, 704)


def test_resize_to_bucket_crops_instead_of_stretching() -> None:
    image = Image.new("RGB", (300, 100), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 10, 100))  # a thin blue strip at the far left gets cropped
    result = resize_to_bucket(image, (128, 64))
    assert result.size == (128, 64)
    assert result.getpixel((0, 32))[2] < 128


def test_to_rgb_composites_transparency_on_white() -> None:
    image = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    flat = to_rgb(image)
    assert flat.mode == "RGB"
    assert flat.getpixel((5, 5)) == (255, 255, 255)
    assert flat.getpixel((0, 0)) == (255, 0, 0)


def test_to_rgb_scales_16_bit_gray_instead_of_clipping() -> None:
    pixels = np.full((4, 4), 32768, dtype=np.uint16)
    flat = to_rgb(Image.fromarray(pixels))
    assert flat.getpixel((1, 1)) == (128, 128, 128)


def test_phash_is_a_signed_64_bit_integer_round_trip() -> None:
    rng = np.random.default_rng(3)
    image = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    value = phash64(image)
    assert -(1 << 63) <= value < (1 << 63)
    assert to_unsigned64(value) == int(str(__import__("imagehash").phash(image)), 16)
