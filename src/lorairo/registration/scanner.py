"""Finding candidate images under the paths a user gives, lazily, never leaving them.

A directory symlink that leads outside the given roots is not followed unless asked (one `up ->
../..` once pulled in every project above, thumbnails and exports included); excluded folders (the
project's own data) are never entered; a folder that cannot be read is reported with its path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
SIDECAR_EXTENSIONS = frozenset({".txt", ".caption"})


@dataclass
class ScanStats:
    """What the scan passed over: non-image files (sidecars of an image are not counted), links
    leading outside the roots, and folders it could not read (path, error)."""

    ignored_non_images: int = 0
    skipped_links: list[str] = field(default_factory=list)
    unreadable_folders: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ScanScope:
    """Where the walk may go: inside `roots` (resolved), never inside `excluded`."""

    roots: tuple[Path, ...]
    excluded: tuple[Path, ...] = ()
    follow_links: bool = False

    def inside_roots(self, path: Path) -> bool:
        return any(path.is_relative_to(root) for root in self.roots)

    def excludes(self, path: Path) -> bool:
        return any(path.is_relative_to(folder) for folder in self.excluded)


def _split(name: str) -> tuple[str, str]:
    path = PurePath(name)
    return path.stem, path.suffix.lower()


def is_image_name(name: str) -> bool:
    return _split(name)[1] in IMAGE_EXTENSIONS


def _directory_images(
    directory: Path, scope: ScanScope, stats: ScanStats, visited: set[tuple[int, int]]
) -> Iterator[Path]:
    """Images of one directory in name order, then its subdirectories (depth first)."""
    try:
        identity = directory.stat()
    except OSError as exc:
        stats.unreadable_folders.append((str(directory), exc.strerror or str(exc)))
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
    except OSError as exc:
        stats.unreadable_folders.append((str(directory), exc.strerror or str(exc)))
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
        subdir = directory / name
        if subdir.is_symlink():
            target = subdir.resolve()
            if scope.excludes(target):
                continue
            if not scope.follow_links and not scope.inside_roots(target):
                stats.skipped_links.append(str(subdir))
                continue
        elif scope.excludes(subdir.resolve()):
            continue
        yield from _directory_images(subdir, scope, stats, visited)


def scan(
    paths: Iterable[Path],
    stats: ScanStats | None = None,
    *,
    excluded: Iterable[Path] = (),
    follow_links: bool = False,
) -> Iterator[Path]:
    """Yield every image file under `paths` (files or folders) once, in a stable order.

    A generator so a 100k-image folder never sits in memory; only one directory listing at a time.
    """
    stats = stats if stats is not None else ScanStats()
    roots = [Path(path) for path in paths]
    scope = ScanScope(
        tuple(root.resolve() for root in roots), tuple(Path(p).resolve() for p in excluded), follow_links
    )
    visited: set[tuple[int, int]] = set()
    for path in roots:
        if scope.excludes(path.resolve()):
            continue
        if path.is_dir():
            yield from _directory_images(path, scope, stats, visited)
        elif path.is_file():
            if is_image_name(path.name):
                yield path
            else:
                stats.ignored_non_images += 1
