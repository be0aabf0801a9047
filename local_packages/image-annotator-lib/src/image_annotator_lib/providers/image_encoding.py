"""Preparing an image for an API: downscaled, flattened, compressed and base64-encoded.

Providers bill and limit by image size, and none gains accuracy beyond about 1024 px on the long
side, so a 6000 px photo is sent as a ~150 kB JPEG instead of megabytes of PNG.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Literal

from PIL import Image

DEFAULT_LONG_SIDE = 1024
ImageFormat = Literal["JPEG", "WEBP"]
_MEDIA_TYPES: dict[ImageFormat, str] = {"JPEG": "image/jpeg", "WEBP": "image/webp"}


@dataclass(frozen=True)
class EncodedImage:
    media_type: str
    data: str  # base64, no data-URL prefix
    width: int
    height: int

    @property
    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{self.data}"

    @property
    def raw(self) -> bytes:
        return base64.b64decode(self.data)


def _flatten(image: Image.Image) -> Image.Image:
    """JPEG has no alpha: composite transparent images on white rather than on black."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def encode_image(
    image: Image.Image,
    *,
    long_side: int = DEFAULT_LONG_SIDE,
    fmt: ImageFormat = "JPEG",
    quality: int = 90,
) -> EncodedImage:
    """Downscale (never upscale) so the long side is at most `long_side`, then encode."""
    if fmt not in _MEDIA_TYPES:
        raise ValueError(f"unsupported format {fmt!r}; use JPEG or WEBP")
    prepared = _flatten(image)
    scale = long_side / max(prepared.size)
    if scale < 1:
        size = (max(1, round(prepared.width * scale)), max(1, round(prepared.height * scale)))
        prepared = prepared.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    prepared.save(buffer, format=fmt, quality=quality)
    return EncodedImage(
        media_type=_MEDIA_TYPES[fmt],
        data=base64.b64encode(buffer.getvalue()).decode("ascii"),
        width=prepared.width,
        height=prepared.height,
    )
