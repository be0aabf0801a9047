"""Image-to-tensor conversions, matching how each model family was trained.

WD taggers were trained on white-padded squares in BGR, float32 0..255; CLIP encoders on a
resized, centre-cropped RGB image normalised with CLIP's mean and std. Getting either wrong
silently degrades every prediction, so these functions are small and tested pixel by pixel.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from PIL import Image

Layout = Literal["NHWC", "NCHW"]
WHITE = (255, 255, 255)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


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


def wd_tensor(image: Image.Image, size: int) -> np.ndarray:
    """One HWC BGR array, `size` x `size`, values 0..255. Kept uint8 (a quarter of the memory
    and copying); `stack` makes the batch float32 in one pass."""
    square = pad_to_square(composite_on_white(image))
    if square.size != (size, size):
        square = square.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(square, dtype=np.uint8)[:, :, ::-1]


def clip_tensor(
    image: Image.Image,
    size: int,
    mean: tuple[float, float, float] = CLIP_MEAN,
    std: tuple[float, float, float] = CLIP_STD,
) -> np.ndarray:
    """One HWC RGB float32 array: shorter side resized to `size`, centre crop, CLIP normalisation."""
    rgb = composite_on_white(image)
    width, height = rgb.size
    scale = size / min(width, height)
    resized = rgb.resize(
        (max(size, round(width * scale)), max(size, round(height * scale))), Image.Resampling.BICUBIC
    )
    left = (resized.width - size) // 2
    top = (resized.height - size) // 2
    cropped = resized.crop((left, top, left + size, top + size))
    array = np.asarray(cropped, dtype=np.float32) / 255.0
    return (array - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)


def stack(tensors: list[np.ndarray], layout: Layout) -> np.ndarray:
    """Batch HWC arrays into the layout the model's input declares."""
    batch = np.stack(tensors)
    if layout == "NCHW":
        batch = batch.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(batch, dtype=np.float32)
