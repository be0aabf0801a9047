"""Training-safe image files: what each trainer's loader reads as the person saw the picture.

Trainers open images with a bare `Image.open(...).convert("RGB")` (kohya-ss sd-scripts
`library/train_util.py` `load_image`), which ignores EXIF orientation, turns 16-bit PNGs white and
drops alpha onto black; and each lists the extensions it globs (`IMAGE_EXTENSIONS` there; ai-toolkit
`toolkit/data_loader.py` `image_extensions`, with WebP reported broken so only PNG/JPEG are used;
OneTrainer `modules/util/path_util.py` `SUPPORTED_IMAGE_EXTENSIONS`). So an original is copied
byte for byte only when it already is upright, 8-bit RGB or gray, without alpha, in a format every
chosen trainer lists; anything else is re-encoded upright and flattened exactly as registration
flattens (`storage.imaging.to_rgb`), lossless sources as PNG and lossy ones as JPEG.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image

from lorairo.storage.imaging import LOSSLESS_FORMATS, has_alpha
from lorairo.storage.render import JPEG_QUALITY, decode_upright_rgb

_ORIENTATION = 0x0112
_SAFE_MODES = frozenset({"RGB", "L"})
_COMMON = frozenset({"JPEG", "PNG", "WEBP", "BMP"})
# Pillow format names each format's trainer globs, narrowed to what all of them read reliably.
TRAINER_FORMATS: dict[str, frozenset[str]] = {
    "kohya": _COMMON,
    "kohya-json": _COMMON,
    "jsonl": _COMMON,
    "hf": _COMMON,
    "onetrainer": _COMMON,
    "simpletuner": _COMMON,
    "diffusion-pipe": _COMMON,
    "ai-toolkit": frozenset({"JPEG", "PNG"}),
}
IMAGE_FORMAT_NAMES = {"webp": "WEBP", "png": "PNG", "jpg": "JPEG"}


def accepted_formats(formats: tuple[str, ...]) -> frozenset[str]:
    """Pillow formats every chosen trainer reads."""
    accepted = _COMMON
    for fmt in formats:
        accepted = accepted & TRAINER_FORMATS[fmt]
    return accepted


def is_training_safe(data: bytes, image_format: str, accepted: frozenset[str]) -> bool:
    """From the file's bytes, parsing only the header: format, mode, alpha and EXIF orientation.

    A PNG's EXIF may follow the pixel data, where Pillow would decode the whole image to reach it,
    so a PNG is only asked for its orientation when it has an `eXIf` chunk at all."""
    if image_format not in accepted:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data), formats=[image_format])
    with image:
        if image.format not in accepted or image.mode not in _SAFE_MODES or has_alpha(image):
            return False
        if image.format == "PNG" and b"eXIf" not in data:
            return True
        return image.getexif().get(_ORIENTATION, 1) == 1


def safe_extension(image_format: str) -> str:
    """Lossless sources stay lossless (PNG); lossy ones become a high-quality JPEG."""
    return ".png" if image_format in LOSSLESS_FORMATS else ".jpg"


def render_safe(path: Path) -> tuple[Image.Image, str]:
    """The upright, flattened 8-bit RGB pixels of `path` and the extension to save them under.

    Decoded from bytes in memory, so no file handle outlives the call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(path.read_bytes()))
    image_format = str(image.format)
    return decode_upright_rgb(image, image.size), safe_extension(image_format)


def save_options(extension: str) -> dict[str, object]:
    if extension == ".jpg":
        return {"format": "JPEG", "quality": JPEG_QUALITY, "subsampling": 0}
    return {"format": "PNG", "compress_level": 1}
