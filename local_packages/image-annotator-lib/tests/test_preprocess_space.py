"""`Preprocess` over its whole option space and the image shapes and modes users have."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from image_annotator_lib.local.preprocessing import (
    CHANNEL_ORDERS,
    INTERPOLATIONS,
    RESIZE_MODES,
    VALUE_RANGES,
    Preprocess,
)

MODES = ["RGB", "RGBA", "L", "LA", "P", "CMYK", "I;16"]
RANGES = {"0..255": (1.0, 0.0), "0..1": (1 / 255, 0.0), "-1..1": (2 / 255, -1.0)}

options = st.fixed_dictionaries(
    {
        "channel_order": st.sampled_from(CHANNEL_ORDERS),
        "value_range": st.sampled_from(VALUE_RANGES),
        "resize": st.sampled_from(RESIZE_MODES),
        "interpolation": st.sampled_from(sorted(INTERPOLATIONS)),
        "pad_color": st.sampled_from(["white", "black", [124, 116, 104]]),
        "mean": st.none() | st.tuples(*[st.floats(-1, 1)] * 3).map(list),
        "std": st.none() | st.tuples(*[st.floats(0.1, 2)] * 3).map(list),
    }
)


@settings(max_examples=60, deadline=None)
@given(
    opts=options,
    width=st.integers(1, 260),
    height=st.integers(1, 260),
    mode=st.sampled_from(MODES),
    size=st.sampled_from([8, 32, 64]),
    layout=st.sampled_from(["NHWC", "NCHW"]),
    seed=st.integers(0, 2**16),
)
def test_every_image_becomes_the_documented_tensor(
    opts: dict[str, object], width: int, height: int, mode: str, size: int, layout: str, seed: int
) -> None:
    preprocess = Preprocess.from_options(opts)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)
    image = (
        Image.fromarray(pixels, "RGBA").convert(mode)
        if mode != "I;16"
        else Image.new("I;16", (width, height))
    )
    array = preprocess.image_array(image, size)
    assert array.shape == (size, size, 3) and array.dtype == np.uint8
    batch = preprocess.batch([array, array[::-1]], layout)  # type: ignore[arg-type]
    scale, offset = RANGES[str(opts["value_range"])]
    mean = np.array(opts["mean"] or [0.0] * 3)
    std = np.array(opts["std"] or [1.0] * 3)
    expected = ((array * scale + offset) - mean) / std
    got = batch[0] if layout == "NHWC" else batch[0].transpose(1, 2, 0)
    assert batch.dtype == np.float32 and batch.shape[0] == 2
    assert np.allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize("order", CHANNEL_ORDERS)
@pytest.mark.parametrize("fill", ["white", "black", [124, 116, 104]])
def test_padding_has_the_pad_colour_in_the_channel_order(order: str, fill: object) -> None:
    preprocess = Preprocess.from_options({"channel_order": order, "pad_color": fill})
    array = preprocess.image_array(Image.new("RGB", (200, 40), (10, 200, 60)), 32)
    rgb = {"white": [255, 255, 255], "black": [0, 0, 0]}.get(fill, fill) if isinstance(fill, str) else fill
    expected = list(rgb) if order == "RGB" else list(rgb)[::-1]  # type: ignore[arg-type]
    assert array[0, 16].tolist() == expected and array[31, 16].tolist() == expected
    centre = [10, 200, 60] if order == "RGB" else [60, 200, 10]
    assert np.abs(array[16, 16].astype(int) - centre).max() <= 1


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("channel_order", "GBR"),
        ("resize", "crop"),
        ("pad_color", "grey"),
        ("std", [1, 0, 1]),
        ("mean", [1, 2]),
    ],
)
def test_bad_options_name_the_key(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=key):
        Preprocess.from_options({key: value})
