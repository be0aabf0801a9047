"""Crop rectangles: parsing `--box x,y,w,h`, `--aspect W:H --focus center|top|x,y`, and applying one.

A rectangle is in upright pixels (after EXIF orientation), the space registration stores width and
height in, so it means the same thing in every viewer and in every export.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from lorairo.errors import ValidationError

FOCI = ("center", "top")


@dataclass(frozen=True)
class CropBox:
    x: int
    y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.x < 0 or self.y < 0 or self.width < 1 or self.height < 1:
            raise ValidationError(f"crop {self.text} needs x, y >= 0 and a positive width and height")

    @property
    def text(self) -> str:
        return f"{self.x},{self.y},{self.width},{self.height}"

    def fits(self, width: int, height: int) -> bool:
        return self.x + self.width <= width and self.y + self.height <= height

    def apply(self, image: Image.Image) -> Image.Image:
        return image.crop((self.x, self.y, self.x + self.width, self.y + self.height))


def parse_box(text: str) -> CropBox:
    parts = text.split(",")
    try:
        x, y, width, height = (int(part) for part in parts)
    except ValueError:
        raise ValidationError(f"--box must be x,y,w,h in whole pixels, got {text!r}") from None
    return CropBox(x, y, width, height)


def parse_aspect(text: str) -> float:
    left, sep, right = text.partition(":")
    try:
        ratio = float(left) / float(right) if sep else float(text)
    except (ValueError, ZeroDivisionError):
        raise ValidationError(f"--aspect must be W:H such as 2:3, got {text!r}") from None
    if not 0.05 <= ratio <= 20:
        raise ValidationError(f"--aspect {text} is not a sensible ratio")
    return ratio


def parse_focus(text: str) -> str | tuple[float, float]:
    """`center`, `top`, or `x,y`: the point (fractions 0-1 of width and height) kept in the middle."""
    if text in FOCI:
        return text
    try:
        fx, fy = (float(part) for part in text.split(","))
    except ValueError:
        raise ValidationError(f"--focus must be center, top or x,y fractions, got {text!r}") from None
    if not (0 <= fx <= 1 and 0 <= fy <= 1):
        raise ValidationError(f"--focus fractions must be between 0 and 1, got {text!r}")
    return fx, fy


def box_for_aspect(width: int, height: int, aspect: float, focus: str | tuple[float, float]) -> CropBox:
    """The largest `aspect` (w/h) rectangle inside the image, placed around `focus`."""
    if width / height > aspect:
        crop_w, crop_h = max(1, round(height * aspect)), height
    else:
        crop_w, crop_h = width, max(1, round(width / aspect))
    if focus == "center":
        fx, fy = 0.5, 0.5
    elif focus == "top":
        fx, fy = 0.5, 0.0
    else:
        assert isinstance(focus, tuple)
        fx, fy = focus

    def place(extent: int, size: int, fraction: float) -> int:
        return min(max(0, round(extent * fraction - size / 2)), extent - size)

    return CropBox(place(width, crop_w, fx), place(height, crop_h, fy), crop_w, crop_h)
