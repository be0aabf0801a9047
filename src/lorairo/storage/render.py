"""Rendering stored images: decode upright, resize to a bucket, write atomically.

Registration renders processed copies with it while decoding; export re-renders a missing copy
from a stored original with the very same code, so both get identical pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from loguru import logger
from PIL import Image, ImageOps

from lorairo.storage import layout
from lorairo.storage.imaging import LOSSLESS_FORMATS, bucket_size, resize_to_bucket, to_rgb
from lorairo.storage.validation import INTERNAL_ERROR, UNREADABLE_FILE, Rejection, load_pixels, open_image

_ORIENTATION = 0x0112
_TRANSPOSED = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height
JPEG_QUALITY = 95
THUMBNAIL_QUALITY = 80


@dataclass(frozen=True)
class ProcessedCopy:
    resolution: int
    staged: str
    width: int
    height: int


@dataclass(frozen=True)
class Rejected:
    path: str
    reason: str
    message: str


def save_atomic(image: Image.Image, path: str, image_format: str) -> None:
    """Write to a temporary name and rename, so a kill never leaves a half-written file."""
    tmp = Path(f"{path}.part")
    image.save(tmp, format=image_format, **_save_options(image_format))
    tmp.replace(path)


def _save_options(image_format: str) -> dict[str, object]:
    if image_format == "JPEG":
        return {"quality": JPEG_QUALITY, "subsampling": 0}
    if image_format == "WEBP":
        return {"quality": THUMBNAIL_QUALITY, "method": 0}
    return {"compress_level": 1}  # speed over size: these are working copies


def _swaps_axes(image: Image.Image) -> bool:
    return image.getexif().get(_ORIENTATION, 1) in _TRANSPOSED


def upright_size(image: Image.Image) -> tuple[int, int]:
    """Dimensions after applying the EXIF orientation, read from the header without decoding."""
    width, height = image.size
    return (height, width) if _swaps_axes(image) else (width, height)


def decode_upright_rgb(image: Image.Image, needed: tuple[int, int]) -> Image.Image:
    """Fully decode (JPEG at the smallest DCT scale still covering `needed`), rotate upright, flatten."""
    if image.format in {"JPEG", "MPO"}:
        raw_needed = (needed[1], needed[0]) if _swaps_axes(image) else needed
        image.draft(None, raw_needed)
    load_pixels(image)
    ImageOps.exif_transpose(image, in_place=True)  # in place: no copy of an upright image
    return to_rgb(image)


def render_copies(
    upright: Image.Image, sizes: dict[int, tuple[int, int]], image_format: str, stem: str, cover: int
) -> tuple[tuple[ProcessedCopy, ...], Image.Image]:
    """Write the processed copies, each resized from the full upright image (one LANCZOS pass, no
    compounding); also return the smallest one whose long side still reaches `cover` (or the upright
    image), so thumbnail and pHash start from the fewest pixels already in memory."""
    out_format = "PNG" if image_format in LOSSLESS_FORMATS else "JPEG"
    ext = layout.processed_extension(image_format)
    copies = []
    smallest = upright
    for resolution, size in sorted(sizes.items(), reverse=True):
        target = f"{stem}.{resolution}{ext}"
        resized = resize_to_bucket(upright, size)
        save_atomic(resized, target, out_format)
        copies.append(ProcessedCopy(resolution, target, *size))
        if max(size) >= cover:
            smallest = resized
    return tuple(copies), smallest


def internal_error(path: str, exc: Exception) -> Rejected:
    """An exception nobody foresaw, contained to its file: the run goes on, the user sees type and
    message, the traceback goes to the log."""
    logger.opt(exception=exc).error("internal error while handling {}", path)
    return Rejected(path, INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")


def render_stored(
    source: str, target: str, resolution: int, upscale: bool, max_pixels: int
) -> ProcessedCopy | Rejected:
    """(Re)generate one processed copy from a stored original, written atomically to `target`;
    like `decode_file`, every problem becomes a `Rejected`."""
    try:
        return _render_stored(source, target, resolution, upscale, max_pixels)
    except Exception as exc:
        return internal_error(source, exc)


def _render_stored(
    source: str, target: str, resolution: int, upscale: bool, max_pixels: int
) -> ProcessedCopy | Rejected:
    try:
        image = open_image(Path(source).read_bytes(), max_pixels)
        image_format = str(image.format)
        size = bucket_size(*upright_size(image), resolution, upscale=upscale)
        upright = decode_upright_rgb(image, size)
    except Rejection as rejection:
        return Rejected(source, rejection.reason, rejection.message)
    except OSError as exc:
        return Rejected(source, UNREADABLE_FILE, str(exc))
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    save_atomic(
        resize_to_bucket(upright, size), target, "PNG" if image_format in LOSSLESS_FORMATS else "JPEG"
    )
    return ProcessedCopy(resolution, target, *size)
