"""Image quality measures for curation: sharpness and blur, brightness, contrast, letterbox bars and
the JPEG quality the file was saved at.

Registration measures every image on the small image it already holds for the thumbnail, so the
measures cost microseconds next to the decode. They are pure functions of pixels (and a JPEG
header's quantisation tables), shared by registration and the backfill of older projects.

What the numbers mean (all measured at the analysis scale, a long side of at most
`ANALYSIS_SIDE` pixels, inside any letterbox bars):

- `sharpness`: the variance of the Laplacian of the luma (0..255), the classic focus measure. It
  grows with contrast and detail, so it ranks images of one kind but has no absolute meaning.
- `blur`: 0..1, contrast-free. The Laplacian's energy divided by the gradient's energy is
  1 / (2 sigma^2) for an edge blurred by a Gaussian of width sigma, so it estimates how soft the
  edges are whatever their contrast or number: `blur = 1 - 1 / (2 sigma^2)`, clipped to 0..1.
  Crisp edges give 0; `blur > 0.8` means edges at least as soft as a Gaussian blur of
  sigma = 1.6 px at the analysis scale (about 0.6% of the long side, ~6 px on a 1024-px copy);
  an image with no edges at all (a flat colour) gives 1.
- `brightness`: mean luma, 0 (black) .. 1 (white).
- `contrast`: RMS contrast, the luma's standard deviation / 127.5, 0 (flat) .. 1 (half black,
  half white).
- `border`: the share of the image's area in uniform bars along its edges, each ending in a
  straight line (a white background fading into a subject is not a bar).
- `letterbox`: bars of one colour on opposite sides (top and bottom, or left and right), each at
  least `MIN_BAR` of the side: a film frame, or a picture padded to another aspect ratio.
- `jpeg_quality`: 1..100, the IJG quality whose quantisation tables are nearest the file's (as
  ImageMagick's estimate); None for other formats.

The flags the GUI shows and the query language names (`blurry`, `dark`, `bright`,
`low-contrast`, `small`) are thresholds over these, kept in `utils/quality_flags.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

# Bump when a measure changes: the backfill recomputes rows measured by an older version.
QUALITY_VERSION = 1
ANALYSIS_SIDE = 256

MIN_BAR = 0.02  # of the side, for a letterbox bar
_BAR_TOLERANCE = 24.0  # per channel, of 255: JPEG noise and resampling ringing in a black bar
_BAR_UNIFORM = 0.98  # share of a line's pixels within the tolerance for it to be part of a bar
_BAR_EDGE = 0.5  # share of pixels differing from the bar just inside it: a straight edge
_MAX_BAR = 0.45  # of the side; a bar never covers more
_MIN_SIDE_FOR_BARS = 16
# 8-bit rounding of each channel leaves noise of variance 1/12 in it; in the luma mix it is
# (0.299^2 + 0.587^2 + 0.114^2) / 12. Its share is taken out of both energies so a heavily blurred
# image, whose remaining "edges" are rounding steps, is not mistaken for a sharp one.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_ROUNDING_VARIANCE = float((_LUMA**2).sum()) / 12
_FLAT_GRADIENT = 0.5  # mean squared gradient below this (luma levels^2): no edges to judge
_EDGE_FLOOR = 2.0


@dataclass(frozen=True)
class Quality:
    """One image's measures (see the module docstring for what each means)."""

    sharpness: float | None
    blur: float | None
    brightness: float
    contrast: float
    border: float
    letterbox: bool
    jpeg_quality: int | None

    def to_dict(self) -> dict[str, float | int | bool | None]:
        return {
            "sharpness": self.sharpness,
            "blur": self.blur,
            "brightness": self.brightness,
            "contrast": self.contrast,
            "border": self.border,
            "letterbox": self.letterbox,
            "jpeg_quality": self.jpeg_quality,
        }


def analysis_view(thumbnail: Image.Image) -> Image.Image:
    """The image the measures read: the thumbnail itself at the default size, else shrunk to
    `ANALYSIS_SIDE`, so `blur` means the same whatever thumbnail size a project uses."""
    if max(thumbnail.size) <= ANALYSIS_SIDE:
        return thumbnail
    view = thumbnail.copy()
    view.thumbnail((ANALYSIS_SIDE, ANALYSIS_SIDE), Image.Resampling.LANCZOS)
    return view


def measure(image: Image.Image, quantization: Mapping[int, Sequence[int]] | None = None) -> Quality:
    """All measures of an RGB image at the analysis scale (pass `analysis_view(thumbnail)`)."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    top, bottom, left, right, letterbox = _bars(pixels)
    height, width = pixels.shape[:2]
    content = pixels[top : height - bottom, left : width - right]
    luma = content @ _LUMA
    sharpness, blur = _sharpness(luma)
    border = 1.0 - (content.shape[0] * content.shape[1]) / (height * width)
    return Quality(
        sharpness=sharpness,
        blur=blur,
        brightness=round(float(luma.mean()) / 255, 4),
        contrast=round(min(1.0, float(luma.std()) / 127.5), 4),
        border=round(border, 4),
        letterbox=letterbox,
        jpeg_quality=jpeg_quality(quantization) if quantization else None,
    )


def _sharpness(luma: np.ndarray) -> tuple[float | None, float | None]:
    """(variance of the Laplacian, blur 0..1); None for images under 3 px a side."""
    if min(luma.shape) < 3:
        return None, None
    laplacian = luma[1:-1, :-2] + luma[1:-1, 2:] + luma[:-2, 1:-1] + luma[2:, 1:-1] - 4 * luma[1:-1, 1:-1]
    variance = float(laplacian.var())
    gradient = float(np.square(np.diff(luma, axis=1)).mean() + np.square(np.diff(luma, axis=0)).mean())
    # The 4-neighbour Laplacian multiplies white noise's variance by 20, a difference by 2 (per axis).
    edges = gradient - 4 * _ROUNDING_VARIANCE
    if edges < _FLAT_GRADIENT:
        return round(variance, 3), 1.0
    # 1 / (2 sigma^2) for a blurred edge; the floor keeps the last traces of edges in a nearly
    # flat image (rounding, grain) from reading as crisp ones.
    ratio = max(0.0, variance - 20 * _ROUNDING_VARIANCE) / (edges + _EDGE_FLOOR)
    blur = min(1.0, max(0.0, 1.0 - ratio))
    return round(variance, 3), round(blur, 4)


def _bars(pixels: np.ndarray) -> tuple[int, int, int, int, bool]:
    """Widths of the straight-edged uniform bars (top, bottom, left, right) and whether opposite
    bars of one colour make a letterbox or pillarbox."""
    height, width = pixels.shape[:2]
    top = bottom = left = right = 0
    top_colour = bottom_colour = left_colour = right_colour = None
    if height >= _MIN_SIDE_FOR_BARS:
        top, top_colour = _bar(pixels)
        bottom, bottom_colour = _bar(pixels[::-1])
    if width >= _MIN_SIDE_FOR_BARS:
        columns = pixels.transpose(1, 0, 2)
        left, left_colour = _bar(columns)
        right, right_colour = _bar(columns[::-1])
    if top + bottom >= height - 2:
        top = bottom = 0
    if left + right >= width - 2:
        left = right = 0

    def paired(a: int, b: int, colour_a: np.ndarray | None, colour_b: np.ndarray | None, side: int) -> bool:
        least = max(2, MIN_BAR * side)
        return (
            a >= least
            and b >= least
            and colour_a is not None
            and colour_b is not None
            and bool(np.abs(colour_a - colour_b).max() <= _BAR_TOLERANCE)
        )

    letterbox = paired(top, bottom, top_colour, bottom_colour, height) or paired(
        left, right, left_colour, right_colour, width
    )
    return top, bottom, left, right, letterbox


def _bar(lines: np.ndarray) -> tuple[int, np.ndarray | None]:
    """How many lines from the first (the image's edge) inward form a uniform bar that ends in a
    straight edge, and the bar's colour; (0, None) when there is none. Reads lines in growing
    chunks, so an image without bars costs one line."""
    limit = int(len(lines) * _MAX_BAR)
    if limit < 1:
        return 0, None
    colour = np.median(lines[0], axis=0)
    size, chunk = 0, 4
    while size <= limit:
        uniform = _closeness(lines[size : size + chunk], colour) >= _BAR_UNIFORM
        if not uniform.all():
            size += int(np.argmin(uniform))
            break
        size += chunk
        chunk *= 2
    if size == 0 or size > limit:
        return 0, None
    # The bar's inner edge is straight when content starts across the line at once; a background
    # meeting the top of a subject differs in only a few pixels of the next lines.
    if 1.0 - float(_closeness(lines[size : size + 3], colour).min()) < _BAR_EDGE:
        return 0, None
    return size, colour


def _closeness(lines: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Per line, the share of its pixels within the bar tolerance of `colour`."""
    return np.asarray((np.abs(lines - colour) <= _BAR_TOLERANCE).all(axis=-1).mean(axis=1))


# The IJG (libjpeg) base tables of ITU-T T.81 Annex K, in natural (row-major) order.
_LUMINANCE_BASE = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ]
).reshape(64)
_CHROMINANCE_BASE = np.full(64, 99)
_CHROMINANCE_BASE[[0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 24, 25]] = [
    17,
    18,
    24,
    47,
    18,
    21,
    26,
    66,
    24,
    26,
    56,
    47,
    66,
]


def _ijg_tables(base: np.ndarray) -> np.ndarray:
    """The table libjpeg writes at each quality 1..100 (`jpeg_quality_scaling`), one row each."""
    quality = np.arange(1, 101)
    scale = np.where(quality < 50, 5000 // quality, 200 - 2 * quality)
    return np.clip((base[None, :] * scale[:, None] + 50) // 100, 1, 255)


_IJG_LUMINANCE = _ijg_tables(_LUMINANCE_BASE)
_IJG_CHROMINANCE = _ijg_tables(_CHROMINANCE_BASE)


def jpeg_quality(quantization: Mapping[int, Sequence[int]]) -> int | None:
    """The IJG quality (1..100) whose tables are nearest the file's (Pillow's `im.quantization`,
    natural order): exact for libjpeg/Pillow/most software, the nearest match for cameras'
    own tables; None without a usable luminance table."""
    luminance = quantization.get(0)
    if luminance is None or len(luminance) != 64:
        return None
    distance = np.abs(_IJG_LUMINANCE - np.asarray(luminance, dtype=np.int64)[None, :]).sum(axis=1)
    chrominance = quantization.get(1)
    if chrominance is not None and len(chrominance) == 64:
        distance += np.abs(_IJG_CHROMINANCE - np.asarray(chrominance, dtype=np.int64)[None, :]).sum(axis=1)
    best = np.flatnonzero(distance == distance.min())
    return int(best[-1]) + 1  # at the top, qualities share all-ones tables: report the highest
