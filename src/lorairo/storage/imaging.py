"""Pure image transforms shared by registration and export: flatten, bucket resize, thumbnail, pHash.

Nothing here touches files or the database, so export can reuse `bucket_size` and
`resize_to_bucket` and get exactly the pixels registration produced.
"""

from __future__ import annotations

import math

import imagehash
import numpy as np
from PIL import Image

BUCKET_STEP = 64
WHITE = (255, 255, 255)
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_HIGH_DEPTH_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
# Formats whose processed copy stays lossless (PNG); lossy sources get a high-quality JPEG.
LOSSLESS_FORMATS = frozenset({"PNG", "BMP", "TIFF", "GIF"})


def has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def _to_8bit_gray(image: Image.Image) -> Image.Image:
    """Scale 16-bit / 32-bit / float gray to 8 bits; Pillow's own convert would clip to white."""
    pixels = np.asarray(image)
    if image.mode.startswith("I;16"):
        scaled = pixels.astype(np.uint16) >> 8
    elif image.mode == "F":
        peak = float(pixels.max()) if pixels.size else 0.0
        scaled = np.clip(pixels * (255.0 if peak <= 1.0 else 1.0), 0, 255)
    else:
        peak = int(pixels.max()) if pixels.size else 0
        scaled = np.clip(pixels / 257.0, 0, 255) if peak > 255 else np.clip(pixels, 0, 255)
    return Image.fromarray(scaled.astype(np.uint8))


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB with any transparency composited on white: training data must carry no alpha."""
    if image.mode in _HIGH_DEPTH_MODES:
        image = _to_8bit_gray(image)
    if has_alpha(image):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def bucket_size(width: int, height: int, resolution: int, *, upscale: bool = False) -> tuple[int, int]:
    """Output size for a long side of `resolution`, each side a multiple of 64 for aspect bucketing.

    Without `upscale` an image smaller than `resolution` keeps its size (sides rounded down to 64);
    sides never go below 64.
    """
    long_side = max(width, height)
    scale = (resolution if upscale else min(resolution, long_side)) / long_side

    def side(original: int) -> int:
        rounded = math.floor(original * scale / BUCKET_STEP + 0.5) * BUCKET_STEP  # half up, not to even
        if not upscale and rounded > original:
            rounded = original // BUCKET_STEP * BUCKET_STEP
        return max(BUCKET_STEP, rounded)

    return side(width), side(height)


def crop_box(width: int, height: int, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The centred region of a `width`x`height` image with the aspect ratio of `size`.

    The aspect comparison is done in integers, so one axis is always the full side exactly (0 and
    `width`/`height`, never 1e-13 off) and the other lies strictly inside it; the fractional side is
    clamped to the image as well, so Pillow never sees a box outside the image.
    """
    target_w, target_h = size
    if width * target_h > height * target_w:  # wider than the target: trim the sides
        crop_w = height * target_w / target_h
        left = max(0.0, (width - crop_w) / 2)
        return left, 0.0, min(float(width), left + crop_w), float(height)
    if width * target_h < height * target_w:  # taller than the target: trim top and bottom
        crop_h = width * target_h / target_w
        top = max(0.0, (height - crop_h) / 2)
        return 0.0, top, float(width), min(float(height), top + crop_h)
    return 0.0, 0.0, float(width), float(height)


def resize_to_bucket(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Cover-resize and centre-crop in one LANCZOS pass, so content is never stretched."""
    if image.size == size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, box=crop_box(*image.size, size))


def make_thumbnail(image: Image.Image, size: int) -> Image.Image:
    thumbnail = image.copy()
    thumbnail.thumbnail((size, size), Image.Resampling.LANCZOS)
    return thumbnail


def to_signed64(value: int) -> int:
    """SQLite integers are signed 64-bit; a pHash uses all 64 bits."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned64(value: int) -> int:
    return value & ((1 << 64) - 1)


def phash64(image: Image.Image) -> int:
    """The 64-bit perceptual hash as a signed integer (the form stored in `images.phash`)."""
    bits = np.packbits(imagehash.phash(image).hash.flatten())
    return to_signed64(int.from_bytes(bits.tobytes(), "big"))
