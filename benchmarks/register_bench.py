"""Registration throughput against the floor: bare Pillow decode + resize-to-1024 of the same files.

    uv run python benchmarks/register_bench.py [--n 1000] [--workers 0]

Generates N varied ~2-megapixel images (90% JPEG, 5% PNG, 5% WebP) under a temp dir, measures the
floor with a process pool of the same size, then runs `lorairo images register` on them in a fresh
project (a real CLI subprocess) while sampling the peak memory (PSS) of its whole process tree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

SIZE = (1632, 1224)  # 2.0 megapixels


_TEXTURE: np.ndarray | None = None


def _make(task: tuple[int, str]) -> None:
    """A varied photo-like image: a random low-resolution pattern upscaled, plus full-resolution
    grain (a shared texture at a random offset), so pHashes differ and JPEG decoding is not trivial."""
    global _TEXTURE
    seed, path = task
    rng = np.random.default_rng(seed)
    width, height = SIZE
    if _TEXTURE is None:
        _TEXTURE = np.random.default_rng(0).integers(-12, 12, (height * 2, width * 2, 3), dtype=np.int16)
    pattern = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    dy, dx = rng.integers(0, height), rng.integers(0, width)
    grain = _TEXTURE[dy : dy + height, dx : dx + width]
    pixels = (np.asarray(pattern, dtype=np.int16) + grain).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    if path.endswith(".png"):
        image.save(path, compress_level=6)
    else:
        image.save(path, quality=90)


def _floor_one(path: str) -> tuple[int, int]:
    with Image.open(path) as image:
        image.load()
        scale = 1024 / max(image.size)
        resized = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
        )
        return resized.size


def generate(folder: Path, n: int, workers: int) -> list[str]:
    paths = []
    for i in range(n):
        ext = ".png" if i % 20 == 0 else ".webp" if i % 20 == 1 else ".jpg"
        paths.append(str(folder / f"set{i % 10}" / f"img_{i:05}{ext}"))
    for index in range(10):
        (folder / f"set{index}").mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_make, enumerate(paths), chunksize=8))
    return paths


def floor(paths: list[str], workers: int) -> float:
    started = time.monotonic()
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_floor_one, paths, chunksize=4))
    return time.monotonic() - started


def register(folder: Path, home: Path, workers: int) -> tuple[dict[str, object], float, float]:
    """Run the real CLI; returns its JSON report, wall seconds and the peak memory (MB) of its process
    tree as PSS, so pages forked workers share with the parent are counted once."""
    env = {
        **os.environ,
        "LORAIRO_CONFIG_PATH": str(home / "config" / "lorairo.toml"),
        "LORAIRO_DATABASE_DIR": str(home / "projects"),
        "LORAIRO_MAX_WORKERS": str(workers),
    }
    command = [sys.executable, "-m", "lorairo", "--json", "images", "register", str(folder), "-p", "bench"]
    started = time.monotonic()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        parent = psutil.Process(child.pid)
        while not done.is_set():
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak = max(peak, sum(p.memory_full_info().pss for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = child.communicate()
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit(f"register failed with exit code {child.returncode}")
    return json.loads(out), wall, peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=0, help="0 = all cores")
    args = parser.parse_args()
    workers = args.workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="lorairo-bench-") as tmp:
        root = Path(tmp)
        started = time.monotonic()
        paths = generate(root / "images", args.n, workers)
        print(f"generated {args.n} images ({SIZE[0]}x{SIZE[1]}) in {time.monotonic() - started:.1f}s")
        floor_seconds = floor(paths, workers)
        report, wall, peak_mb = register(root / "images", root / "home", workers)
        ours = float(report["seconds"])  # type: ignore[arg-type]
        print(f"workers: {workers}")
        print(
            f"baseline (decode + resize-to-1024): {floor_seconds:.2f}s  ({args.n / floor_seconds:.1f} images/s)"
        )
        print(f"ours (register service):            {ours:.2f}s  ({args.n / ours:.1f} images/s)")
        print(f"ours (CLI end to end, with startup): {wall:.2f}s")
        print(f"ratio ours/baseline: {ours / floor_seconds:.2f}x")
        print(f"registered: {report['registered']}, failed: {len(report['failed'])}")  # type: ignore[arg-type]
        print(f"peak memory (PSS) of the register process tree: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
