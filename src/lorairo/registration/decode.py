"""The per-image work done in a pool worker: one read and one decode yield identity, metadata,
processed copies and the thumbnail, written into the run's staging folder.

Workers return small picklable records, never pixels, so the main process stays light.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import scipy.fftpack  # noqa: F401  (imagehash imports it lazily; load it before workers fork)
from loguru import logger
from PIL import Image, ImageOps

from lorairo.database.engine import Database
from lorairo.database.image_repository import ImageRepository
from lorairo.registration import layout
from lorairo.registration.imaging import (
    LOSSLESS_FORMATS,
    bucket_size,
    has_alpha,
    make_thumbnail,
    phash64,
    resize_to_bucket,
    to_rgb,
)
from lorairo.registration.pool import guard_worker
from lorairo.registration.sidecars import Sidecar, read_sidecar
from lorairo.registration.validation import (
    INTERNAL_ERROR,
    UNREADABLE_FILE,
    Rejection,
    check_file_size,
    load_pixels,
    open_image,
)

_ORIENTATION = 0x0112
_TRANSPOSED = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height
JPEG_QUALITY = 95
THUMBNAIL_QUALITY = 80


@dataclass(frozen=True)
class DecodeSettings:
    staging_dir: str
    resolutions: tuple[int, ...]
    upscale: bool
    thumbnail_size: int
    max_bytes: int
    max_pixels: int


@dataclass(frozen=True)
class ProcessedCopy:
    resolution: int
    staged: str
    width: int
    height: int


@dataclass(frozen=True)
class Decoded:
    """A valid image, decoded and with its derived files staged."""

    path: str
    sha256: str
    phash: int
    width: int
    height: int
    format: str
    mode: str
    has_alpha: bool
    file_size: int
    staged_original: str
    staged_thumbnail: str
    processed: tuple[ProcessedCopy, ...]
    sidecar: Sidecar


@dataclass(frozen=True)
class Known:
    """Bytes already in the project (found before decoding, so re-runs are cheap)."""

    path: str
    sha256: str
    sidecar: Sidecar


@dataclass(frozen=True)
class Rejected:
    path: str
    reason: str
    message: str


DecodeOutcome = Decoded | Known | Rejected

_repository: ImageRepository | None = None


WORKER_NICENESS = 10


def init_worker(database_path: str | None) -> None:
    """Pool initializer: a read-only handle for the cheap 'already registered?' check. Decoding
    is batch work: at a lower CPU priority it still takes every idle cycle, but no longer starves
    an interactive process (the GUI thread scrolling the grid) of the cores."""
    global _repository
    guard_worker()
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)
    if database_path:
        _repository = ImageRepository(Database(Path(database_path), migrate=False))


def _save(image: Image.Image, path: str, image_format: str) -> None:
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
        _save(resized, target, out_format)
        copies.append(ProcessedCopy(resolution, target, *size))
        if max(size) >= cover:
            smallest = resized
    return tuple(copies), smallest


def internal_error(path: str, exc: Exception) -> Rejected:
    """An exception nobody foresaw, contained to its file: the run goes on, the user sees type and
    message, the traceback goes to the log."""
    logger.opt(exception=exc).error("internal error while handling {}", path)
    return Rejected(path, INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")


def decode_file(path: str, settings: DecodeSettings) -> DecodeOutcome:
    """Validate and fully process one file; every problem becomes a `Rejected`, never an exception."""
    try:
        return _decode_file(path, settings)
    except Exception as exc:
        return internal_error(path, exc)


def _decode_file(path: str, settings: DecodeSettings) -> DecodeOutcome:
    source = Path(path)
    try:
        size = source.stat().st_size
        check_file_size(size, settings.max_bytes)
        data = source.read_bytes()
    except Rejection as rejection:
        return Rejected(path, rejection.reason, rejection.message)
    except OSError as exc:
        return Rejected(path, UNREADABLE_FILE, str(exc))
    sha256 = hashlib.sha256(data).hexdigest()
    sidecar = read_sidecar(source)
    if _repository is not None and _repository.sha256_registered(sha256):
        return Known(path, sha256, sidecar)
    try:
        image = open_image(data, settings.max_pixels)
        image_format = str(image.format)
        mode = image.mode
        alpha = has_alpha(image)
        width, height = upright_size(image)
        sizes = {r: bucket_size(width, height, r, upscale=settings.upscale) for r in settings.resolutions}
        needed = (
            max([settings.thumbnail_size, *(w for w, _ in sizes.values())]),
            max([settings.thumbnail_size, *(h for _, h in sizes.values())]),
        )
        upright = decode_upright_rgb(image, needed)
    except Rejection as rejection:
        return Rejected(path, rejection.reason, rejection.message)
    # A per-task token: two copies of one file may be decoded at once by different workers.
    stem = str(Path(settings.staging_dir) / f"{sha256}.{secrets.token_hex(4)}")
    staged_original = stem + layout.original_extension(image_format)
    partial = Path(staged_original + ".part")
    partial.write_bytes(data)
    partial.replace(staged_original)
    copies, smallest = render_copies(upright, sizes, image_format, stem, settings.thumbnail_size)
    thumbnail = make_thumbnail(smallest, settings.thumbnail_size)
    phash = phash64(thumbnail)  # pHash works on 32x32; the thumbnail is a cheaper start than 1024 px
    staged_thumbnail = f"{stem}.thumb.webp"
    _save(thumbnail, staged_thumbnail, "WEBP")
    return Decoded(
        path=path,
        sha256=sha256,
        phash=phash,
        width=width,
        height=height,
        format=image_format,
        mode=mode,
        has_alpha=alpha,
        file_size=size,
        staged_original=staged_original,
        staged_thumbnail=staged_thumbnail,
        processed=copies,
        sidecar=sidecar,
    )


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
    _save(resize_to_bucket(upright, size), target, "PNG" if image_format in LOSSLESS_FORMATS else "JPEG")
    return ProcessedCopy(resolution, target, *size)
