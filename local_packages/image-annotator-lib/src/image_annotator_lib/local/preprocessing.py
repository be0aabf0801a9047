"""Image-to-tensor conversions, matching how each model family was trained.

WD taggers were trained on white-padded squares in BGR, float32 0..255; CLIP encoders on a
resized, centre-cropped RGB image normalised with CLIP's mean and std. Getting either wrong
silently degrades every prediction, so these functions are small and tested pixel by pixel.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from PIL import Image

Layout = Literal["NHWC", "NCHW"]
WHITE = (255, 255, 255)
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


def composite_on_white(image: Image.Image) -> Image.Image:
    """RGB with any transparency flattened onto white (what the WD training data looked like)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*WHITE, 255))
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


def _reduced_square(image: Image.Image, factor: int) -> Image.Image:
    """`pad_to_square(image).reduce(factor)`, reducing only the blocks the image reaches: every
    other block of the square is pure padding and reduces to exactly white."""
    width, height = image.size
    side = max(width, height)
    offset = (side - min(width, height)) // 2
    start = offset - offset % factor  # the strip starts on a block boundary of the square
    end = min(side, -(-(offset + min(width, height)) // factor) * factor)
    wide = width > height
    strip = Image.new("RGB", (side, end - start) if wide else (end - start, side), WHITE)
    strip.paste(image, (0, offset - start) if wide else (offset - start, 0))
    reduced_side = -(-side // factor)
    canvas = Image.new("RGB", (reduced_side, reduced_side), WHITE)
    canvas.paste(strip.reduce(factor), (0, start // factor) if wide else (start // factor, 0))
    return canvas


def wd_resize(image: Image.Image, size: int) -> Image.Image:
    """`pad_to_square(image).resize((size, size), BICUBIC)` without resampling the padding.

    Pillow resizes a square in two separable passes, horizontal then vertical. White rows or
    columns of the padded square come out of each pass exactly white, so each pass runs only on
    the band the image reaches and the rest is filled white. Same filter over the same canvas; the
    band's box only changes floating-point rounding of the coefficients, so a few pixels in a
    thousand differ by 1 from the plain pad-and-resize (tested), for a third less work at 3:2."""
    width, height = image.size
    side = max(width, height)
    bicubic = Image.Resampling.BICUBIC
    if width == height or side >= 2 * REDUCING_GAP * size:
        factor = int(side / size / REDUCING_GAP)
        if width == height or factor < 2:
            square = pad_to_square(image)
            return square if side == size else square.resize((size, size), bicubic, reducing_gap=REDUCING_GAP)
        # What `reducing_gap` does to the padded square (box-reduce by `factor`, then bicubic over the
        # fractional box), without building the square: a 20000x1 strip would make a 1.2 GB canvas.
        reduced = _reduced_square(image, factor)
        return reduced.resize((size, size), bicubic, box=(0, 0, side / factor, side / factor))
    scale = side / size
    canvas = Image.new("RGB", (size, size), WHITE)
    if width > height:
        offset = (side - height) // 2
        first, last = _content_band(offset, height, side, size)
        rows = Image.new("RGB", (size, side), WHITE)
        rows.paste(image.resize((size, height), bicubic), (0, offset))
        band = rows.resize((size, last - first), bicubic, box=(0, first * scale, size, last * scale))
        canvas.paste(band, (0, first))
    else:
        offset = (side - width) // 2
        first, last = _content_band(offset, width, side, size)
        columns = pad_to_square(image).resize(
            (last - first, side), bicubic, box=(first * scale, 0, last * scale, side)
        )
        canvas.paste(columns.resize((last - first, size), bicubic), (first, 0))
    return canvas


def wd_tensor(image: Image.Image, size: int) -> np.ndarray:
    """One HWC BGR array, `size` x `size`, values 0..255. Kept uint8 (a quarter of the memory
    and copying); `stack` makes the batch float32 in one pass."""
    return np.asarray(wd_resize(composite_on_white(image), size), dtype=np.uint8)[:, :, ::-1]


def clip_tensor(
    image: Image.Image,
    size: int,
    mean: tuple[float, float, float] = CLIP_MEAN,
    std: tuple[float, float, float] = CLIP_STD,
) -> np.ndarray:
    """One HWC RGB float32 array: shorter side resized to `size`, centre crop, CLIP normalisation."""
    rgb = composite_on_white(image)
    width, height = rgb.size
    # Resize only the centred square that the crop keeps (the filter still reads past its edges):
    # the same pixels, but a 1x20000 strip no longer becomes a 448x8960000 intermediate.
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
    cropped = rgb.resize((size, size), Image.Resampling.BICUBIC, box=box)
    array = np.asarray(cropped, dtype=np.float32) / 255.0
    return (array - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)


def stack(tensors: list[np.ndarray], layout: Layout) -> np.ndarray:
    """Batch HWC arrays into the layout the model's input declares."""
    batch = np.stack(tensors)
    if layout == "NCHW":
        batch = batch.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(batch, dtype=np.float32)
