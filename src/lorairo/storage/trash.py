"""A removal's files in a trash folder, never deleted: `<trash>/<edit id>/<stored path>`.

`manifest.json` in the folder lists the stored paths (`images/...`) the removal moves, written
before the first move, so a run killed between moving files and committing the database can be put
right later (`TrashFolder.settle`): the edit log says where the files belong, the manifest says
which files they are. Every move is a rename inside one folder tree (the trash lies beside the
images), and any move that fails puts back what was already moved before the error goes out.

`PendingMoves` keeps one empty marker file per move that is not settled yet
(`<trash>/.pending/<edit id>`), written before the first file moves and removed once the commit
(or the rollback) is through, so settling after a crash looks at those folders only, not at every
removal ever made.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from lorairo.errors import LoRAIroException

MANIFEST = "manifest.json"
PENDING = ".pending"
Resolve = Callable[[str], Path]  # a stored path (`images/...`) -> where it lives on this machine


class TrashError(LoRAIroException):
    """A file could not be moved into or out of the trash; nothing was changed."""


class TrashFolder:
    """One removal's folder: which stored files it holds, moving them in and back out."""

    def __init__(self, folder: Path, resolve: Resolve) -> None:
        self.folder, self.resolve = folder, resolve

    @property
    def manifest(self) -> Path:
        return self.folder / MANIFEST

    def stored(self) -> list[str]:
        """The stored paths this removal moved (empty when there is no manifest)."""
        if not self.manifest.is_file():
            return []
        return list(json.loads(self.manifest.read_text(encoding="utf-8"))["files"])

    def trashed(self, stored: str) -> Path:
        return self.folder / stored

    def move_in(self, stored: list[str]) -> list[str]:
        """Move the files that exist into the folder; returns those moved (a missing file is
        skipped: its rows are what the person removes). On any failure every moved file goes back."""
        present = [path for path in dict.fromkeys(stored) if self.resolve(path).is_file()]
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._write_manifest(present)
        except OSError as exc:
            raise TrashError(f"cannot write the trash folder {self.folder}: {exc}") from exc
        self._move(present, into_trash=True)
        return present

    def move_all_in(self) -> list[str]:
        """Move the manifest's files in again (a redo, or an undo whose commit failed)."""
        return self.move_in(self.stored())

    def move_out(self) -> list[str]:
        """Put the folder's files back where they were; refuses (moving nothing) when a file
        already lies at a place one would go back to."""
        stored = [path for path in self.stored() if self.trashed(path).is_file()]
        taken = [str(self.resolve(path)) for path in stored if self.resolve(path).exists()]
        if taken:
            raise TrashError(
                f"{len(taken)} file(s) of the removed images exist again (e.g. {taken[0]}); "
                "move them away first"
            )
        self._move(stored, into_trash=False)
        return stored

    def settle(self, in_trash: bool, keep: set[str] | frozenset[str] = frozenset()) -> int:
        """Put every file of the manifest (but those in `keep`) where the edit log says it
        belongs, after a run died between moving files and committing; returns how many moved."""
        wrong = [
            path
            for path in self.stored()
            if path not in keep
            and (self.resolve(path) if in_trash else self.trashed(path)).is_file()
            and not (self.trashed(path) if in_trash else self.resolve(path)).exists()
        ]
        self._move(wrong, into_trash=in_trash)
        return len(wrong)

    def discard(self) -> None:
        """Forget a removal that never committed: its manifest and empty folders go (its files
        are back in the project)."""
        self.manifest.unlink(missing_ok=True)
        _prune_empty(self.folder)
        if self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()

    def _write_manifest(self, stored: list[str]) -> None:
        temporary = self.manifest.with_suffix(".tmp")
        temporary.write_text(json.dumps({"files": stored}, indent=1), encoding="utf-8")
        temporary.replace(self.manifest)

    def _move(self, stored: list[str], *, into_trash: bool) -> None:
        done: list[tuple[Path, Path]] = []
        for path in stored:
            source, target = (
                (self.resolve(path), self.trashed(path))
                if into_trash
                else (self.trashed(path), self.resolve(path))
            )
            try:
                if target.exists():
                    raise FileExistsError(f"{target} already exists")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(source, target)
            except OSError as exc:
                for moved_from, moved_to in reversed(done):
                    shutil.move(moved_to, moved_from)
                where = "into the trash" if into_trash else "back from the trash"
                raise TrashError(f"cannot move {source} {where}: {exc}; nothing was moved") from exc
            done.append((source, target))
        if not into_trash:
            _prune_empty(self.folder)


class PendingMoves:
    """The markers of moves between the project and the trash not yet settled by their commit."""

    def __init__(self, trash: Path) -> None:
        self.trash = trash
        self.folder = trash / PENDING

    def tracked(self) -> bool:
        """Whether markers are kept here: a trash folder made before them has none, so its
        settling must look at every removal folder once (`track` then starts the markers)."""
        return self.folder.is_dir()

    def track(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def ids(self) -> list[int]:
        """The edit ids with a move in flight (or cut short by a crash)."""
        if not self.folder.is_dir():
            return []
        return sorted(int(p.name) for p in self.folder.iterdir() if p.name.isdigit())

    def add(self, edit_id: int) -> None:
        """Mark `edit_id`'s files as moving: before the first of them moves."""
        try:
            self.track()
            (self.folder / str(edit_id)).touch()
        except OSError as exc:
            raise TrashError(f"cannot write the trash folder {self.trash}: {exc}") from exc

    def settled(self, edit_id: int) -> None:
        """The commit (or the rollback that put the files back) is through."""
        (self.folder / str(edit_id)).unlink(missing_ok=True)


def _prune_empty(folder: Path) -> None:
    """Drop the folder's empty directories (the manifest stays, for a redo)."""
    for directory in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(directory.iterdir()):
            directory.rmdir()
