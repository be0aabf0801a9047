"""Builders for real test data: image files on disk and rows in a real project database."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from lorairo.database.engine import Database
from lorairo.database.schema import Image


def make_image_file(
    path: Path,
    size: tuple[int, int] = (64, 48),
    *,
    seed: int = 0,
    mode: str = "RGB",
    fmt: str | None = None,
    **save_options: object,
) -> Path:
    """Write a deterministic, structured (not flat) image so pHashes of different seeds differ."""
    rng = np.random.default_rng(seed)
    width, height = size
    blocks = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    pixels = np.kron(blocks, np.ones((height // 8 + 1, width // 8 + 1, 1), dtype=np.uint8))[:height, :width]
    image = PILImage.fromarray(pixels, "RGB")
    if mode != "RGB":
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt, **save_options)
    return path


def add_image_row(database: Database, path: Path, **overrides: object) -> int:
    """Insert an `images` row for an existing file without going through registration."""
    data = path.read_bytes()
    with PILImage.open(path) as image:
        width, height, fmt, mode = image.width, image.height, image.format or "PNG", image.mode
    values: dict[str, object] = {
        "file_path": str(path),
        "stored_path": str(path),
        "name": path.name,
        "file_size": len(data),
        "width": width,
        "height": height,
        "format": fmt,
        "mode": mode,
        "has_alpha": "A" in mode,
        "sha256": hashlib.sha256(data).hexdigest(),
        "phash": int.from_bytes(hashlib.sha256(data).digest()[:8], "big", signed=True),
    }
    values.update(overrides)
    with database.write_session() as session:
        row = Image(**values)
        session.add(row)
        session.flush()
        return row.id
