"""Deciding whether a file may be registered, with a human reason when it may not.

Every check runs before the database is touched. Reasons are short fixed strings (stored in
`registration_failures.reason`, shown to users); details go into the message.
"""

from __future__ import annotations

import warnings
from io import BytesIO

from PIL import Image, UnidentifiedImageError

EMPTY_FILE = "empty file"
FILE_TOO_LARGE = "file too large"
NOT_AN_IMAGE = "not an image"
UNSUPPORTED_FORMAT = "unsupported format"
TRUNCATED_IMAGE = "truncated image"
TOO_MANY_PIXELS = "too many pixels"
CORRUPT_IMAGE = "corrupt image"
UNREADABLE_FILE = "unreadable file"
UNREADABLE_FOLDER = "unreadable folder"
DECODER_CRASHED = "decoder crashed"
# A bug on our side, not a fault of the file: the only reason a re-run tries again.
INTERNAL_ERROR = "internal error"

# Pillow format names we accept; MPO is the multi-picture JPEG many cameras write.
ALLOWED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF", "GIF"})

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


class Rejection(Exception):
    """A file that must not be registered: `reason` is one of the constants above."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason


def check_file_size(size: int, max_bytes: int) -> None:
    if size == 0:
        raise Rejection(EMPTY_FILE)
    if size > max_bytes:
        raise Rejection(FILE_TOO_LARGE, f"{size / 1e6:.1f} MB exceeds the {max_bytes / 1e6:.1f} MB limit")


def sniff_format(head: bytes) -> str | None:
    """The image format the leading bytes announce, whatever the file's extension says."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return name
    return None


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """Open (header only) and enforce format and pixel cap before any pixel is allocated."""
    if sniff_format(data[:16]) is None:
        raise Rejection(NOT_AN_IMAGE, "content is not a JPEG, PNG, WebP, BMP, TIFF or GIF image")
    # Pillow's own bomb guard follows the configured cap (it errors at twice its limit), so a larger
    # `max_pixels` is honoured and a smaller one is reported by the check below, in the user's terms.
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise Rejection(TOO_MANY_PIXELS, f"more than the {max_pixels:,} pixel limit (max_pixels)") from exc
    except UnidentifiedImageError as exc:
        raise Rejection(CORRUPT_IMAGE, "the image header cannot be read") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise Rejection(CORRUPT_IMAGE, str(exc)) from exc
    if image.format not in ALLOWED_FORMATS:
        raise Rejection(UNSUPPORTED_FORMAT, f"format {image.format} is not supported")
    width, height = image.size
    if width <= 0 or height <= 0:
        raise Rejection(CORRUPT_IMAGE, f"invalid dimensions {width}x{height}")
    if width * height > max_pixels:
        raise Rejection(
            TOO_MANY_PIXELS, f"{width}x{height} exceeds the {max_pixels:,} pixel limit (max_pixels)"
        )
    return image


def load_pixels(image: Image.Image) -> None:
    """Decode every pixel, turning Pillow's many failure types into one rejection each."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
    except Image.DecompressionBombError as exc:
        raise Rejection(TOO_MANY_PIXELS, str(exc)) from exc
    except EOFError as exc:
        raise Rejection(TRUNCATED_IMAGE, str(exc) or "unexpected end of file") from exc
    except OSError as exc:
        reason = TRUNCATED_IMAGE if "truncated" in str(exc) else CORRUPT_IMAGE
        raise Rejection(reason, str(exc)) from exc
    except (SyntaxError, ValueError, MemoryError) as exc:
        raise Rejection(CORRUPT_IMAGE, str(exc)) from exc
