"""Image-to-tensor conversions, described per model family by a `Preprocess`.

WD taggers were trained on white-padded squares in BGR, float32 0..255; CLIP encoders on a
resized, centre-cropped RGB image normalised with CLIP's mean and std; camie on black-padded RGB
0..1, pixai on RGB -1..1. Getting any of it wrong silently degrades every prediction, so these
functions are small and tested pixel by pixel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

import numpy as np
from PIL import Image

Layout = Literal["NHWC", "NCHW"]
ChannelOrder = Literal["RGB", "BGR"]
ValueRange = Literal["0..255", "0..1", "-1..1"]
ResizeMode = Literal["pad-to-square", "shorter-side-crop", "stretch"]
CHANNEL_ORDERS: tuple[str, ...] = get_args(ChannelOrder)
VALUE_RANGES: tuple[str, ...] = get_args(ValueRange)
RESIZE_MODES: tuple[str, ...] = get_args(ResizeMode)
INTERPOLATIONS: dict[str, Image.Resampling] = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "lanczos": Image.Resampling.LANCZOS,
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
}
FLOAT32 = np.dtype(np.float32)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
NAMED_COLOURS = {"white": WHITE, "black": BLACK}
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# JPEGs may be decoded at 1/2, 1/4 or 1/8 scale (DCT scaling, far cheaper than a full decode) as
# long as what is left is at least this many times the model input; the bicubic resize then still
# does the final downscale (Pillow's `thumbnail` keeps the same margin). Measured on a photo for a
# 448 input: margin 2 moved the tensor by 0.17 levels on average (a JPEG re-encode moves it ~0.9);
# margin 1 by 3.7 (DCT scaling is sharper than bicubic's wide antialias), too far from training.
DRAFT_MARGIN = 2
# From 6x down (huge non-JPEG files), Pillow's `reducing_gap=3.0` box-reduces the square by an integer
# factor first and leaves >= 3x to the bicubic filter; its docs call the result indistinguishable.
REDUCING_GAP = 3.0


def flatten_alpha(image: Image.Image, fill: tuple[int, int, int] = WHITE) -> Image.Image:
    """RGB with any transparency flattened onto `fill` (what the training data looked like: WD's
    white, camie's black)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*fill, 255))
        background.alpha_composite(rgba)
        return background.convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def pad_to_square(image: Image.Image, fill: tuple[int, int, int] = WHITE) -> Image.Image:
    """Centre the image on a square canvas of its longer side."""
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas


def draft(image: Image.Image, size: int, side: Literal["longer", "shorter"]) -> None:
    """Ask the JPEG decoder for the smallest DCT scale (1/2, 1/4, 1/8) that keeps the image's
    `side` at least DRAFT_MARGIN x `size` (WD pads to its longer side; CLIP crops to its shorter).
    Must run before the pixels are loaded; other formats and loaded images ignore it."""
    width, height = image.size
    needed = DRAFT_MARGIN * size
    if side == "shorter":
        image.draft(None, (needed, needed))
    else:
        image.draft(None, (needed, 1) if width >= height else (1, needed))


def _content_band(offset: int, length: int, side: int, size: int) -> tuple[int, int]:
    """Output rows [first, last) of a `side` -> `size` bicubic pass whose filter window can reach
    source rows [offset, offset + length). Every other output row sees only white padding and is
    exactly white, so it need not be computed. Margins are generous: extra rows cost little."""
    scale = side / size
    support = 2.0 * max(scale, 1.0)  # bicubic radius in source pixels, as Pillow computes it
    first = math.floor((offset - support) / scale - 0.5) - 2
    last = math.ceil((offset + length + support) / scale - 0.5) + 3
    return max(0, first), min(size, last)


def _reduced_square(image: Image.Image, factor: int, fill: tuple[int, int, int]) -> Image.Image:
    """`pad_to_square(image, fill).reduce(factor)`, reducing only the blocks the image reaches:
    every other block of the square is pure padding and reduces to exactly `fill`."""
    width, height = image.size
    side = max(width, height)
    offset = (side - min(width, height)) // 2
    start = offset - offset % factor  # the strip starts on a block boundary of the square
    end = min(side, -(-(offset + min(width, height)) // factor) * factor)
    wide = width > height
    strip = Image.new("RGB", (side, end - start) if wide else (end - start, side), fill)
    strip.paste(image, (0, offset - start) if wide else (offset - start, 0))
    reduced_side = -(-side // factor)
    canvas = Image.new("RGB", (reduced_side, reduced_side), fill)
    canvas.paste(strip.reduce(factor), (0, start // factor) if wide else (start // factor, 0))
    return canvas


def pad_resize(
    image: Image.Image,
    size: int,
    fill: tuple[int, int, int] = WHITE,
    resample: Image.Resampling = Image.Resampling.BICUBIC,
) -> Image.Image:
    """`pad_to_square(image, fill).resize((size, size), resample)` without resampling the padding.

    Pillow resizes a square in two separable passes, horizontal then vertical. Rows or columns of
    the padded square that are all white (or all black) come out of each pass exactly so, so each
    pass runs only on the band the image reaches and the rest is filled. Same filter over the same
    canvas; the band's box only changes floating-point rounding of the coefficients, so a few
    pixels in a thousand differ by 1 from the plain pad-and-resize (tested), for a third less work
    at 3:2. Other fills and filters take the plain path (a grey fill may round differently)."""
    width, height = image.size
    side = max(width, height)
    bicubic = Image.Resampling.BICUBIC
    banded = resample == bicubic and fill in (WHITE, BLACK)
    if width == height or side >= 2 * REDUCING_GAP * size or not banded:
        factor = int(side / size / REDUCING_GAP)
        if width == height or factor < 2:
            square = pad_to_square(image, fill)
            return (
                square if side == size else square.resize((size, size), resample, reducing_gap=REDUCING_GAP)
            )
        # What `reducing_gap` does to the padded square (box-reduce by `factor`, then the filter over
        # the fractional box), without building the square: a 20000x1 strip would make a 1.2 GB canvas.
        reduced = _reduced_square(image, factor, fill)
        return reduced.resize((size, size), resample, box=(0, 0, side / factor, side / factor))
    scale = side / size
    canvas = Image.new("RGB", (size, size), fill)
    if width > height:
        offset = (side - height) // 2
        first, last = _content_band(offset, height, side, size)
        rows = Image.new("RGB", (size, side), fill)
        rows.paste(image.resize((size, height), bicubic), (0, offset))
        band = rows.resize((size, last - first), bicubic, box=(0, first * scale, size, last * scale))
        canvas.paste(band, (0, first))
    else:
        offset = (side - width) // 2
        first, last = _content_band(offset, width, side, size)
        columns = pad_to_square(image, fill).resize(
            (last - first, side), bicubic, box=(first * scale, 0, last * scale, side)
        )
        canvas.paste(columns.resize((last - first, size), bicubic), (first, 0))
    return canvas


def crop_resize(image: Image.Image, size: int, resample: Image.Resampling) -> Image.Image:
    """Shorter side resized to `size`, then the centre square (CLIP's preprocessing).

    Only the centred box that the crop keeps is resampled (the filter still reads past its edges):
    the same pixels, but a 1x20000 strip no longer becomes a 448x8960000 intermediate."""
    width, height = image.size
    scale = size / min(width, height)
    resized_w, resized_h = max(size, round(width * scale)), max(size, round(height * scale))
    left, top = (resized_w - size) // 2, (resized_h - size) // 2
    x_scale, y_scale = width / resized_w, height / resized_h
    box = (
        left * x_scale,
        top * y_scale,
        min(width, (left + size) * x_scale),
        min(height, (top + size) * y_scale),
    )
    return image.resize((size, size), resample, box=box, reducing_gap=REDUCING_GAP)


def _colour(value: object, key: str) -> tuple[int, int, int]:
    if isinstance(value, str) and value in NAMED_COLOURS:
        return NAMED_COLOURS[value]
    if isinstance(value, list | tuple) and len(value) == 3 and all(isinstance(v, int) for v in value):
        return (int(value[0]), int(value[1]), int(value[2]))
    raise ValueError(f"{key} must be white, black or three integers 0..255, got {value!r}")


def _triple(value: object, key: str) -> tuple[float, float, float] | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return (float(value),) * 3
    if isinstance(value, list | tuple) and len(value) == 3:
        return (float(value[0]), float(value[1]), float(value[2]))
    raise ValueError(f"{key} must be a number or three numbers, got {value!r}")


def _choice(value: object, key: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{key} = {value!r}: use one of {', '.join(allowed)}")
    return str(value)


@dataclass(frozen=True)
class Preprocess:
    """How a model family wants its pixels, as a model spec describes it (keys of the same name).

    `value_range` scales the 0..255 pixels; `mean`/`std` then apply per channel, in the units of
    `value_range` and in the tensor's channel order. Defaults are WD's: BGR 0..255 on white."""

    channel_order: ChannelOrder = "BGR"
    value_range: ValueRange = "0..255"
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    pad_color: tuple[int, int, int] = WHITE
    resize: ResizeMode = "pad-to-square"
    interpolation: str = "bicubic"

    @classmethod
    def from_options(cls, options: Mapping[str, Any], defaults: Preprocess | None = None) -> Preprocess:
        """`defaults` with whatever the options set; `ValueError` names the bad key."""
        base = defaults or cls()
        std = _triple(options.get("std", base.std), "std")
        if std is not None and 0.0 in std:
            raise ValueError("std must not be zero")
        return cls(
            channel_order=cast(
                ChannelOrder,
                _choice(options.get("channel_order", base.channel_order), "channel_order", CHANNEL_ORDERS),
            ),
            value_range=cast(
                ValueRange, _choice(options.get("value_range", base.value_range), "value_range", VALUE_RANGES)
            ),
            mean=_triple(options.get("mean", base.mean), "mean"),
            std=std,
            pad_color=_colour(options.get("pad_color", base.pad_color), "pad_color"),
            resize=cast(ResizeMode, _choice(options.get("resize", base.resize), "resize", RESIZE_MODES)),
            interpolation=_choice(
                options.get("interpolation", base.interpolation), "interpolation", tuple(INTERPOLATIONS)
            ),
        )

    @property
    def draft_side(self) -> Literal["longer", "shorter"]:
        return "shorter" if self.resize == "shorter-side-crop" else "longer"

    def image_array(self, image: Image.Image, size: int) -> np.ndarray:
        """One HWC uint8 array, `size` x `size`, in the model's channel order. Kept uint8 (a
        quarter of the memory and copying); `batch` scales the whole batch in one pass."""
        rgb = flatten_alpha(image, self.pad_color)
        resample = INTERPOLATIONS[self.interpolation]
        if self.resize == "pad-to-square":
            resized = pad_resize(rgb, size, self.pad_color, resample)
        elif self.resize == "shorter-side-crop":
            resized = crop_resize(rgb, size, resample)
        else:
            resized = rgb if rgb.size == (size, size) else rgb.resize((size, size), resample)
        array = np.asarray(resized, dtype=np.uint8)
        return array[:, :, ::-1] if self.channel_order == "BGR" else array

    def scale_and_shift(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-channel (a, b) with tensor = pixel * a + b, or None when the pixels go in as they are."""
        scale, offset = {"0..255": (1.0, 0.0), "0..1": (1 / 255, 0.0), "-1..1": (2 / 255, -1.0)}[
            self.value_range
        ]
        mean = np.asarray(self.mean or (0.0, 0.0, 0.0), dtype=np.float64)
        std = np.asarray(self.std or (1.0, 1.0, 1.0), dtype=np.float64)
        a, b = scale / std, (offset - mean) / std
        if np.all(a == 1.0) and np.all(b == 0.0):
            return None
        return a.astype(np.float32), b.astype(np.float32)

    def batch(self, arrays: list[np.ndarray], layout: Layout, dtype: np.dtype = FLOAT32) -> np.ndarray:
        """Stack uint8 HWC arrays into the model's layout and value range."""
        batch = np.stack(arrays).astype(np.float32)
        affine = self.scale_and_shift()
        if affine is not None:
            batch *= affine[0]
            batch += affine[1]
        if layout == "NCHW":
            batch = batch.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(batch, dtype=dtype)


WD_PREPROCESS = Preprocess()
CLIP_PREPROCESS = Preprocess(
    channel_order="RGB", value_range="0..1", mean=CLIP_MEAN, std=CLIP_STD, resize="shorter-side-crop"
)
