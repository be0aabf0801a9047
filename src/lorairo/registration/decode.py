"""The per-image work done in a pool worker: one read and one decode yield identity, metadata,
processed copies and the thumbnail, written into the run's staging folder.

Workers return small picklable records, never pixels, so the main process stays light.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import scipy.fftpack  # noqa: F401  (imagehash imports it lazily; load it before workers fork)
from loguru import logger
from PIL import Image

from lorairo.registration.pool import guard_worker
from lorairo.registration.sidecars import Sidecar, read_sidecar
from lorairo.storage import layout
from lorairo.storage.imaging import bucket_size, has_alpha, make_thumbnail, phash64
from lorairo.storage.quality import Quality, analysis_view, measure
from lorairo.storage.render import (
    ProcessedCopy,
    Rejected,
    decode_upright_rgb,
    internal_error,
    render_copies,
    save_atomic,
    upright_size,
)
from lorairo.storage.validation import UNREADABLE_FILE, Rejection, check_file_size, open_image

Quantization = Mapping[int, Sequence[int]]
IsKnown = Callable[[str], bool]
"""Answers 'are these bytes (by SHA-256 hex digest) already in the project?'."""


@dataclass(frozen=True)
class DecodeSettings:
    staging_dir: str
    resolutions: tuple[int, ...]
    upscale: bool
    thumbnail_size: int
    max_bytes: int
    max_pixels: int


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
    quality: Quality | None = None  # None when measuring failed; the backfill measures it later


@dataclass(frozen=True)
class Known:
    """Bytes already in the project (found before decoding, so re-runs are cheap)."""

    path: str
    sha256: str
    sidecar: Sidecar


DecodeOutcome = Decoded | Known | Rejected

# The worker's injected 'already registered?' check: set once per process by `init_worker`.
_is_known: IsKnown | None = None


WORKER_NICENESS = 10


def init_worker(is_known: IsKnown | None) -> None:
    """Pool initializer: keep the caller's cheap 'already registered?' check. Decoding is batch
    work: at a lower CPU priority it still takes every idle cycle, but no longer starves an
    interactive process (the GUI thread scrolling the grid) of the cores."""
    global _is_known
    guard_worker()
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)
    _is_known = is_known


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
    if _is_known is not None and _is_known(sha256):
        return Known(path, sha256, sidecar)
    try:
        image = open_image(data, settings.max_pixels)
        image_format = str(image.format)
        quantization = getattr(image, "quantization", None)
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
    save_atomic(thumbnail, staged_thumbnail, "WEBP")
    quality = _measure(path, thumbnail, quantization)
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
        quality=quality,
    )


def _measure(path: str, thumbnail: Image.Image, quantization: Quantization | None) -> Quality | None:
    """The quality measures of the thumbnail already in memory; a failure here never costs the
    image its registration (the row is simply missing, and `images quality` fills it later)."""
    try:
        return measure(analysis_view(thumbnail), quantization)
    except Exception as exc:
        logger.opt(exception=exc).warning("quality measures failed for {}", path)
        return None


def measure_stored(source: str, thumbnail_size: int, max_pixels: int) -> Quality | Rejected:
    """The quality measures of a stored original, for images registered before they existed (or
    by an older version of them): decoded only as far as the thumbnail needs, measured on a
    thumbnail made as registration makes it. Every problem becomes a `Rejected`."""
    try:
        image = open_image(Path(source).read_bytes(), max_pixels)
        quantization = getattr(image, "quantization", None)
        upright = decode_upright_rgb(image, (thumbnail_size, thumbnail_size))
        return measure(analysis_view(make_thumbnail(upright, thumbnail_size)), quantization)
    except Rejection as rejection:
        return Rejected(source, rejection.reason, rejection.message)
    except OSError as exc:
        return Rejected(source, UNREADABLE_FILE, str(exc))
    except Exception as exc:
        return internal_error(source, exc)
