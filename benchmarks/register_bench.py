"""Registration throughput on a realistic mix, against two floors measured in the same run.

    uv run python benchmarks/register_bench.py [--n 1000] [--memory-n 3000] [--workers 0]

The corpus (generated here, under a temp dir): 60% phone JPEGs (4000x3000 and 3000x4000, half of
them stored sideways with an EXIF rotation), 25% 2-4 MP PNG illustrations, 10% WebP, 5% odd sizes
and panoramas. Floors, with a process pool of the same size on the same files:
  (a) naive Pillow: open, convert to RGB, LANCZOS resize to a long side of 1024;
  (b) the same with `draft()` (JPEG shrink-on-load).
Ours is `lorairo images register` (a real CLI subprocess) in a fresh project, with the peak memory
(PSS) of its whole process tree; `--memory-n` registers a second, larger corpus only for its peak.
Goals: ours <= 0.6x floor (a) and <= 1.3x floor (b); peak memory flat as N grows.

Quality measures (blur, brightness, contrast, bars, JPEG quality; `storage/quality.py`): the same
pool decodes the corpus with the measures on and off, alternately, twice each (best of two), and
each worker also times the measuring inside its own decodes. Goal: overhead < 5% of registration.
`--quality-only` runs just this part.
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

from lorairo.registration import decode
from lorairo.registration.decode import WORKER_NICENESS, DecodeSettings

TARGET = 1024
_GRAIN: np.ndarray | None = None


def _photo(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """Smooth colour fields plus full-resolution grain: decodes and compresses like a photograph."""
    global _GRAIN
    width, height = size
    if _GRAIN is None:
        _GRAIN = np.random.default_rng(0).integers(-10, 10, (4200, 4200, 3), dtype=np.int16)
    base = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize(
        size, Image.Resampling.BICUBIC
    )
    dy, dx = rng.integers(0, 4200), rng.integers(0, 4200)
    grain = _GRAIN[np.arange(dy, dy + height) % 4200][:, np.arange(dx, dx + width) % 4200]
    return Image.fromarray((np.asarray(base, dtype=np.int16) + grain).clip(0, 255).astype(np.uint8))


def _illustration(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """Flat colour regions with hard edges, like line art / anime frames (compresses as PNGs do)."""
    cells = Image.fromarray(rng.integers(0, 256, (9, 12, 3), dtype=np.uint8)).resize(
        size, Image.Resampling.NEAREST
    )
    shade = np.linspace(0, 40, size[0], dtype=np.int16)[None, :, None]
    return Image.fromarray((np.asarray(cells, dtype=np.int16) - shade).clip(0, 255).astype(np.uint8))


def _make(task: tuple[int, str]) -> None:
    seed, path = task
    rng = np.random.default_rng(seed)
    kind = Path(path).stem.split("_")[0]
    if kind == "phone":
        sideways = seed % 2 == 0
        image = _photo(rng, (4000, 3000) if sideways or seed % 4 == 1 else (3000, 4000))
        exif = Image.Exif()
        if sideways:
            exif[0x0112] = 6  # stored landscape, shown portrait
        image.save(path, quality=90, exif=exif)
    elif kind == "illustration":
        megapixels = 2 + (seed % 3)
        width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
        _illustration(rng, (width, int(width * 3 / 4)) if seed % 2 else (int(width * 3 / 4), width)).save(
            path, compress_level=6
        )
    elif kind == "webp":
        _photo(rng, (1920, 1280)).save(path, quality=85)
    else:
        size = [(8000, 1000), (1000, 8000), (997, 1009), (1196, 1667), (211, 5000)][seed % 5]
        image = _photo(rng, size)
        image.save(path, quality=90) if path.endswith(".jpg") else image.save(path)


def corpus(folder: Path, n: int) -> list[str]:
    paths = []
    for i in range(n):
        slot = i % 20
        name = (
            f"phone_{i:05}.jpg"
            if slot < 12
            else f"illustration_{i:05}.png"
            if slot < 17
            else f"webp_{i:05}.webp"
            if slot < 19
            else f"odd_{i:05}.{'jpg' if i % 40 == 19 else 'png'}"
        )
        paths.append(str(folder / f"set{i % 10}" / name))
    for index in range(10):
        (folder / f"set{index}").mkdir(parents=True, exist_ok=True)
    return paths


def generate(folder: Path, n: int, workers: int) -> list[str]:
    paths = corpus(folder, n)
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_make, enumerate(paths), chunksize=4))
    return paths


def _floor(path: str, draft: bool) -> tuple[int, int]:
    with Image.open(path) as image:
        if draft:
            image.draft("RGB", (TARGET, TARGET))
        rgb = image.convert("RGB")
        scale = TARGET / max(rgb.size)
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        return rgb.resize(size, Image.Resampling.LANCZOS).size


def _floor_naive(path: str) -> tuple[int, int]:
    return _floor(path, draft=False)


def _floor_draft(path: str) -> tuple[int, int]:
    return _floor(path, draft=True)


def _as_nice_as_ours() -> None:
    """Floors run at our workers' CPU priority: on a shared machine a niced pool otherwise loses
    to a normal one for reasons that have nothing to do with work per pixel."""
    os.nice(WORKER_NICENESS)


def floor(paths: list[str], workers: int, one: object) -> float:
    started = time.monotonic()
    with ProcessPoolExecutor(workers, initializer=_as_nice_as_ours) as pool:
        list(pool.map(one, paths, chunksize=4))  # type: ignore[arg-type]
    return time.monotonic() - started


def _quality_worker() -> None:
    _as_nice_as_ours()
    decode.init_worker(None)


def _timed_decode(task: tuple[str, DecodeSettings, bool]) -> tuple[float, float]:
    """One registration decode with the measures on or off: (its seconds, the measuring's)."""
    path, settings, with_quality = task
    measuring = decode._measure
    spent = [0.0]

    def timed(*args: object) -> object:
        started = time.perf_counter()
        result = measuring(*args)  # type: ignore[arg-type]
        spent[0] += time.perf_counter() - started
        return result

    decode._measure = timed if with_quality else (lambda *args: None)  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        outcome = decode.decode_file(path, settings)
        seconds = time.perf_counter() - started
    finally:
        decode._measure = measuring
    if isinstance(outcome, decode.Decoded):
        for staged in (
            outcome.staged_original,
            outcome.staged_thumbnail,
            *(c.staged for c in outcome.processed),
        ):
            Path(staged).unlink(missing_ok=True)
    return seconds, spent[0]


def quality_overhead(paths: list[str], workers: int, staging: Path) -> None:
    staging.mkdir(parents=True, exist_ok=True)
    settings = DecodeSettings(str(staging), (TARGET,), False, 256, 50 * 1024 * 1024, 100_000_000)
    walls: dict[bool, list[float]] = {False: [], True: []}
    inside: list[tuple[float, float]] = []
    with ProcessPoolExecutor(workers, initializer=_quality_worker) as pool:
        for with_quality in (False, True, False, True):
            started = time.monotonic()
            timings = list(pool.map(_timed_decode, [(p, settings, with_quality) for p in paths], chunksize=4))
            walls[with_quality].append(time.monotonic() - started)
            if with_quality:
                inside.extend(timings)
    off, on = min(walls[False]), min(walls[True])
    decode_seconds = sum(total for total, _ in inside)
    measure_seconds = sum(spent for _, spent in inside)
    print(f"decode pool without quality measures (best of 2): {off:7.2f}s")
    print(f"decode pool with quality measures (best of 2):    {on:7.2f}s  ratio {on / off:.3f}x")
    print(
        f"measuring inside the workers' decodes: {1000 * measure_seconds / len(inside):.2f} ms per image, "
        f"{100 * measure_seconds / decode_seconds:.2f}% of decode time (goal < 5%)"
    )


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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument(
        "--memory-n", type=int, default=0, help="also register this many, for peak memory only"
    )
    parser.add_argument("--workers", type=int, default=0, help="0 = all cores")
    parser.add_argument("--quality-only", action="store_true", help="only the quality-measure overhead")
    args = parser.parse_args()
    workers = args.workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="lorairo-bench-") as tmp:
        root = Path(tmp)
        started = time.monotonic()
        paths = generate(root / "images", args.n, workers)
        print(
            f"generated {args.n} images (60% 12 MP JPEG, 25% PNG, 10% WebP, 5% odd) in {time.monotonic() - started:.1f}s"
        )
        quality_overhead(paths, workers, root / "staging")
        if args.quality_only:
            return
        naive = floor(paths, workers, _floor_naive)
        drafted = floor(paths, workers, _floor_draft)
        report, wall, peak_mb = register(root / "images", root / "home", workers)
        ours = float(report["seconds"])  # type: ignore[arg-type]
        print(f"workers: {workers}, load average before ours: {os.getloadavg()[0]:.2f}")
        print(f"floor (a) naive Pillow decode + LANCZOS 1024: {naive:7.2f}s  ({args.n / naive:.1f} images/s)")
        print(
            f"floor (b) Pillow with draft():               {drafted:7.2f}s  ({args.n / drafted:.1f} images/s)"
        )
        print(f"ours (register service):                     {ours:7.2f}s  ({args.n / ours:.1f} images/s)")
        print(f"ours (CLI end to end, with startup):         {wall:7.2f}s")
        print(f"ratio ours / floor (a): {ours / naive:.2f}x  (goal <= 0.6x)")
        print(f"ratio ours / floor (b): {ours / drafted:.2f}x  (goal <= 1.3x)")
        print(f"registered: {report['registered']}, rejected: {len(report['failed'])}")  # type: ignore[arg-type]
        print(f"peak memory (PSS) of the register process tree at {args.n}: {peak_mb:.0f} MB")
        if args.memory_n:
            generate(root / "more", args.memory_n, workers)
            more, _, more_peak = register(root / "more", root / "home-more", workers)
            print(
                f"peak memory (PSS) at {args.memory_n}: {more_peak:.0f} MB "
                f"(registered {more['registered']}, {float(more['seconds']):.1f}s)"  # type: ignore[arg-type]
            )


if __name__ == "__main__":
    main()
