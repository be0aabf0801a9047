"""Projects: `<database_dir>/<name>/database.db` plus `<name>/images/`.

Deleting a project moves it to `<database_dir>/.trash/` rather than erasing it, so a mistaken
delete can be undone by moving the folder back.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lorairo.config import Settings, validate_project_name
from lorairo.database.effective import DEFAULT_SCORE_KIND
from lorairo.database.engine import Database
from lorairo.database.project_stats import ProjectCounts, count_rows
from lorairo.errors import ProjectNotFoundError, ValidationError

DATABASE_FILE = "database.db"
IMAGES_DIR = "images"
TRASH_DIR = ".trash"


@dataclass
class Project:
    """An open project. `database` is migrated to the latest revision on open."""

    name: str
    root: Path
    database: Database
    score_kind: str = DEFAULT_SCORE_KIND  # `[search] default_score_kind`

    @property
    def database_path(self) -> Path:
        return self.root / DATABASE_FILE

    @property
    def images_dir(self) -> Path:
        return self.root / IMAGES_DIR

    def close(self) -> None:
        self.database.close()


@dataclass(frozen=True)
class ProjectInfo:
    name: str
    root: Path
    database_path: Path
    images_dir: Path
    revision: str | None
    counts: ProjectCounts
    disk_bytes: int

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "root": str(self.root),
            "database_path": str(self.database_path),
            "images_dir": str(self.images_dir),
            "revision": self.revision,
            "counts": self.counts.to_dict(),
            "disk_bytes": self.disk_bytes,
        }


class ProjectService:
    def __init__(self, config: Settings) -> None:
        self.config = config

    @property
    def root(self) -> Path:
        return self.config.database_dir

    def _project_root(self, name: str) -> Path:
        try:
            return self.root / validate_project_name(name)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def exists(self, name: str) -> bool:
        return (self._project_root(name) / DATABASE_FILE).is_file()

    def create(self, name: str) -> Project:
        """Create a project (or open it if it already exists): idempotent by design."""
        root = self._project_root(name)
        (root / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
        return Project(
            name=name,
            root=root,
            database=Database(root / DATABASE_FILE),
            score_kind=self.config.config.search.default_score_kind,
        )

    def open(self, name: str | None = None, *, create: bool = False) -> Project:
        """Open a project; the default project is created on first use."""
        name = name or self.config.config.directories.database_project_name
        if not self.exists(name):
            if create or name == self.config.config.directories.database_project_name:
                return self.create(name)
            raise ProjectNotFoundError(f"no project named {name!r} in {self.root}")
        return self.create(name)

    def list(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / DATABASE_FILE).is_file())

    def info(self, name: str) -> ProjectInfo:
        project = self.open(name)
        try:
            counts = count_rows(project.database)
            revision = project.database.current_revision()
        finally:
            project.close()
        disk = sum(p.stat().st_size for p in project.root.rglob("*") if p.is_file())
        return ProjectInfo(
            name=name,
            root=project.root,
            database_path=project.database_path,
            images_dir=project.images_dir,
            revision=revision,
            counts=counts,
            disk_bytes=disk,
        )

    def delete(self, name: str) -> Path:
        """Move the project to the trash folder and return where it went."""
        root = self._project_root(name)
        if not (root / DATABASE_FILE).is_file():
            raise ProjectNotFoundError(f"no project named {name!r} in {self.root}")
        trash = self.root / TRASH_DIR / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"
        trash.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(root), trash)
        return trash
