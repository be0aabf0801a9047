"""Finding candidate images under the paths a user gives, lazily, without following symlink loops."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
SIDECAR_EXTENSIONS = frozenset({".txt", ".caption"})


@dataclass
class ScanStats:
    """What the scan passed over: non-image files (sidecars of an image are not counted)."""

    ignored_non_images: int = 0


def _split(name: str) -> tuple[str, str]:
    path = PurePath(name)
    return path.stem, path.suffix.lower()


def is_image_name(name: str) -> bool:
    return _split(name)[1] in IMAGE_EXTENSIONS


def _directory_images(directory: Path, stats: ScanStats, visited: set[tuple[int, int]]) -> Iterator[Path]:
    """Images of one directory in name order, then its subdirectories (depth first)."""
    try:
        identity = directory.stat()
    except OSError:
        return
    key = (identity.st_dev, identity.st_ino)
    if key in visited:  # a symlink loop, or the same folder given twice
        return
    visited.add(key)
    files: list[str] = []
    subdirs: list[str] = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                try:
                    if entry.is_dir():
                        subdirs.append(entry.name)
                    elif entry.is_file():
                        files.append(entry.name)
                except OSError:
                    continue
    except OSError:
        return
    image_stems = {_split(name)[0] for name in files if is_image_name(name)}
    for name in sorted(files):
        if is_image_name(name):
            yield directory / name
        else:
            stem, ext = _split(name)
            if not (ext in SIDECAR_EXTENSIONS and stem in image_stems):
                stats.ignored_non_images += 1
    for name in sorted(subdirs):
        yield from _directory_images(directory / name, stats, visited)


def scan(paths: Iterable[Path], stats: ScanStats | None = None) -> Iterator[Path]:
    """Yield every image file under `paths` (files or folders) once, in a stable order.

    A generator so a 100k-image folder never sits in memory; only one directory listing at a time.
    """
    stats = stats if stats is not None else ScanStats()
    visited: set[tuple[int, int]] = set()
    for path in paths:
        if path.is_dir():
            yield from _directory_images(path, stats, visited)
        elif path.is_file():
            if is_image_name(path.name):
                yield path
            else:
                stats.ignored_non_images += 1
