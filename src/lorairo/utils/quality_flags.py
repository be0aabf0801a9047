"""The quality flags (`blurry`, `dark`, `bright`, `low-contrast`, `small`): one threshold each, over
the measures `storage/quality.py` computes. Here, at the bottom of the layers, because the query
language's SQL (database), the grid's badges (gui) and the tests all apply the same thresholds."""

from __future__ import annotations

BLURRY_ABOVE = 0.8  # blur 0..1; above: edges softer than a Gaussian of sigma 1.6 px at 256 px
DARK_BELOW = 0.2  # mean luma 0..1
BRIGHT_ABOVE = 0.85
LOW_CONTRAST_BELOW = 0.1  # luma standard deviation / 127.5
DEFAULT_TRAINING_RESOLUTION = 1024


def is_blurry(blur: float | None) -> bool:
    return blur is not None and blur > BLURRY_ABOVE


def is_dark(brightness: float | None) -> bool:
    return brightness is not None and brightness < DARK_BELOW


def is_bright(brightness: float | None) -> bool:
    return brightness is not None and brightness > BRIGHT_ABOVE


def is_low_contrast(contrast: float | None) -> bool:
    """Fog, a washed-out scan, a near-uniform picture."""
    return contrast is not None and contrast < LOW_CONTRAST_BELOW


def is_small(width: int, height: int, resolution: int) -> bool:
    """Too small for training at `resolution` (the project's largest target resolution): the long
    side is shorter, so the processed copy is smaller than the target (or must be enlarged)."""
    return max(width, height) < resolution
