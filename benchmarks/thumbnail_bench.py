"""Sharp grid thumbnails up to 512 px: store them at 512, or decode the original on demand?

    uv run python benchmarks/thumbnail_bench.py [--n 24]

For varied images (JPEG, PNG, WEBP; 1-24 MP; portrait, landscape, square) it measures, per image:
the registration-side cost of making and writing the stored thumbnail at 256 px (the baseline, the
old default) and at 512 px, the bytes each takes on disk, and the grid-side cost of one thumbnail
at the largest grid size (512) decoded from the 512 px stored file versus from the original.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from lorairo.gui.models.thumbnail_loader import decode_thumbnail
from lorairo.storage.imaging import make_thumbnail
from lorairo.storage.render import save_atomic

SHAPES = [(6000, 4000), (4000, 3000), (3024, 4032), (2048, 2048), (1536, 1024), (1024, 1536), (832, 1216)]
FORMATS = [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")]


def make_image(path: Path, size: tuple[int, int], image_format: str, rng: random.Random) -> None:
    """A photo-like image: smooth gradients plus sensor-like noise (so encoders do real work)."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            127 + 100 * np.sin(x / (width / rng.uniform(2, 6))),
            127 + 100 * np.cos(y / (height / rng.uniform(2, 6))),
            127 + 80 * np.sin((x + y) / (width / rng.uniform(1, 4))),
        ],
        axis=-1,
    )
    noise = np.random.default_rng(rng.randint(0, 1 << 30)).normal(0, 12, base.shape)
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, format=image_format, quality=90)


def store(upright: Image.Image, edge: int, path: Path) -> None:
    save_atomic(make_thumbnail(upright, edge), str(path), "WEBP")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=21)
    args = parser.parse_args()
    rng = random.Random(3)
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        for index in range(args.n):
            size = SHAPES[index % len(SHAPES)]
            image_format, suffix = FORMATS[index % len(FORMATS)]
            original = folder / f"{index}.{suffix}"
            make_image(original, size, image_format, rng)
            with Image.open(original) as opened:
                upright = opened.convert("RGB")
            row: dict[str, float] = {}
            for edge in (256, 512):
                stored = folder / f"{index}_{edge}.webp"
                row[f"store_{edge}"] = timed(partial(store, upright, edge, stored))
                row[f"bytes_{edge}"] = stored.stat().st_size
            row["show_stored_512"] = timed(partial(decode_thumbnail, folder / f"{index}_512.webp", 512))
            row["show_original_512"] = timed(partial(decode_thumbnail, original, 512))
            rows.append(row)

    def median(key: str) -> float:
        return statistics.median(row[key] for row in rows)

    print(
        f"{len(rows)} images, JPEG/PNG/WEBP, {min(w * h for w, h in SHAPES) / 1e6:.1f}-"
        f"{max(w * h for w, h in SHAPES) / 1e6:.0f} MP (medians; shared machine)"
    )
    print(f"store 256 px: {median('store_256') * 1e3:.1f} ms, {median('bytes_256') / 1024:.1f} KiB")
    print(
        f"store 512 px: {median('store_512') * 1e3:.1f} ms ({median('store_512') / median('store_256'):.2f}x), "
        f"{median('bytes_512') / 1024:.1f} KiB ({median('bytes_512') / median('bytes_256'):.2f}x)"
    )
    print(f"grid at 512 from the stored 512 px thumbnail: {median('show_stored_512') * 1e3:.1f} ms")
    print(
        f"grid at 512 from the original (on demand): {median('show_original_512') * 1e3:.1f} ms "
        f"({median('show_original_512') / median('show_stored_512'):.1f}x the stored thumbnail)"
    )


if __name__ == "__main__":
    main()
