"""Build an export in a hidden folder beside the target and move it into place only when complete.

An interrupted or failed export therefore leaves the target exactly as it was. Every file written
is recorded with its SHA-256 (in a temporary list, not in memory) for the manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from loguru import logger

from lorairo.errors import ValidationError
from lorairo.export.manifest import MANIFEST_NAME, previous_files, write_manifest

_CHUNK = 1 << 20


class HashingWriter:
    """A text stream into the staging folder whose digest is known when it closes."""

    def __init__(self, staging: Staging, relative: str) -> None:
        self._staging = staging
        self._relative = relative
        self._hash = hashlib.sha256()
        self._handle: IO[bytes] = (staging.path / relative).open("wb")

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        self._hash.update(data)
        self._handle.write(data)

    def close(self) -> None:
        self._handle.close()
        self._staging.record(self._relative, self._hash.hexdigest())


class Staging:
    """The temporary export folder; `commit()` publishes it, `abort()` removes it."""

    def __init__(self, target: Path, *, overwrite: bool) -> None:
        self.target = target.expanduser().absolute()
        if self.target.exists() and not self.target.is_dir():
            raise ValidationError(f"export target {self.target} is a file, not a folder")
        self.merge = self.target.is_dir() and any(self.target.iterdir())
        if self.merge and not overwrite:
            raise ValidationError(
                f"export target {self.target} is not empty; choose another folder or pass --overwrite"
            )
        self.previous = previous_files(self.target) if self.merge else set()
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(
            tempfile.mkdtemp(
                prefix=f".{self.target.name}.", suffix=".lorairo-staging", dir=self.target.parent
            )
        )
        self._files: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed by commit/abort
        self.file_count = 0
        self.link_fallbacks = 0

    def record(self, relative: str, digest: str) -> None:
        self._files.write(f"{digest} {relative}\n")
        self.file_count += 1

    def _recorded(self) -> Iterator[tuple[str, str]]:
        self._files.flush()
        self._files.seek(0)
        for line in self._files:
            digest, relative = line.rstrip("\n").split(" ", 1)
            yield relative, digest

    def write_bytes(self, relative: str, data: bytes, *, digest: str | None = None) -> None:
        """Write `data`; `digest` is its known SHA-256 (computed here when None)."""
        (self.path / relative).write_bytes(data)
        self.record(relative, digest or hashlib.sha256(data).hexdigest())

    def write_text(self, relative: str, text: str) -> None:
        self.write_bytes(relative, text.encode("utf-8"))

    def adopt(self, relative: str) -> None:
        """Record a file something else already wrote into the staging folder."""
        self.record(relative, _copy_hashing(self.path / relative, None))

    def open_stream(self, relative: str) -> HashingWriter:
        return HashingWriter(self, relative)

    def add_file(self, relative: str, source: Path, *, link: bool, digest: str | None) -> None:
        """Copy (or hard-link) `source`; `digest` is its known SHA-256, computed here when None."""
        destination = self.path / relative
        linked = False
        if link:
            try:
                os.link(source, destination)
                linked = True
            except OSError as exc:
                self.link_fallbacks += 1
                logger.debug("hard link {} failed ({}); copying instead", source, exc)
        if digest is None:
            digest = _copy_hashing(source, None if linked else destination)
        elif not linked:
            shutil.copyfile(source, destination)
        self.record(relative, digest)

    def commit(self, header: dict[str, Any]) -> None:
        """Write the manifest, then publish: a rename for a new target, a careful swap for --overwrite."""
        write_manifest(self.path / MANIFEST_NAME, {"tool": "lorairo", **header}, self._recorded())
        self._files.close()
        if not self.merge:
            with contextlib.suppress(FileNotFoundError):
                self.target.rmdir()
            self.path.rename(self.target)
            return
        self._swap_into_target()

    def _swap_into_target(self) -> None:
        """Replace only what the previous manifest listed; refuse to clobber anything else."""
        new = sorted(str(path.relative_to(self.path)) for path in self.path.rglob("*") if path.is_file())
        foreign = [rel for rel in new if rel not in self.previous and (self.target / rel).exists()]
        if foreign:
            shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
            raise ValidationError(
                f"--overwrite would replace {len(foreign)} file(s) this tool did not write in {self.target}: {shown}"
            )
        backup = Path(
            tempfile.mkdtemp(prefix=f".{self.target.name}.", suffix=".lorairo-old", dir=self.target.parent)
        )
        moved_old: list[str] = []
        moved_new: list[str] = []
        try:
            for rel in sorted(self.previous):
                if (self.target / rel).is_file() or (self.target / rel).is_symlink():
                    (backup / rel).parent.mkdir(parents=True, exist_ok=True)
                    (self.target / rel).replace(backup / rel)
                    moved_old.append(rel)
            for rel in new:
                (self.target / rel).parent.mkdir(parents=True, exist_ok=True)
                (self.path / rel).replace(self.target / rel)
                moved_new.append(rel)
        except BaseException:
            for rel in moved_new:
                (self.target / rel).replace(self.path / rel)
            for rel in moved_old:
                (backup / rel).replace(self.target / rel)
            shutil.rmtree(backup, ignore_errors=True)
            raise
        shutil.rmtree(backup, ignore_errors=True)
        shutil.rmtree(self.path, ignore_errors=True)

    def abort(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._files.close()
        shutil.rmtree(self.path, ignore_errors=True)


def _copy_hashing(source: Path, destination: Path | None) -> str:
    """Hash `source` in one read pass, writing it to `destination` on the way when given."""
    digest = hashlib.sha256()
    with (
        source.open("rb") as reader,
        destination.open("wb") if destination else contextlib.nullcontext() as writer,
    ):
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            if writer is not None:
                writer.write(chunk)
    return digest.hexdigest()
