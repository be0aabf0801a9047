"""Where registered files live under a project root (all stored paths are relative to it).

    images/originals/<sha[:2]>/<sha><ext>             the original bytes, unchanged
    images/processed/<res>/<sha[:2]>/<sha>.jpg|png    training copy, long side <res>
    images/thumbnails/<sha[:2]>/<sha>.webp            GUI thumbnail
    images/.staging/<run>/                            a run's files before their rows commit

Names are content hashes, so two images never collide and a re-run rewrites the same paths.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from lorairo.storage.imaging import LOSSLESS_FORMATS

IMAGES = "images"
STAGING = f"{IMAGES}/.staging"
_EXTENSIONS = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "BMP": ".bmp",
    "TIFF": ".tif",
    "GIF": ".gif",
}


def original_extension(image_format: str) -> str:
    """The extension of the actual content (a PNG named `.jpg` is stored as `.png`)."""
    return _EXTENSIONS.get(image_format, ".bin")


def processed_extension(image_format: str) -> str:
    return ".png" if image_format in LOSSLESS_FORMATS else ".jpg"


def original_path(sha256: str, image_format: str) -> str:
    return str(PurePosixPath(IMAGES, "originals", sha256[:2], sha256 + original_extension(image_format)))


def processed_path(sha256: str, image_format: str, resolution: int) -> str:
    return str(
        PurePosixPath(
            IMAGES, "processed", str(resolution), sha256[:2], sha256 + processed_extension(image_format)
        )
    )


def thumbnail_path(sha256: str) -> str:
    return str(PurePosixPath(IMAGES, "thumbnails", sha256[:2], sha256 + ".webp"))
