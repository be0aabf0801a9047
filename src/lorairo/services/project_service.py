"""Projects: `<database_dir>/<name>/database.db` plus `<name>/images/`.

A project may instead live in PostgreSQL (`--database-url`, `[database] url` or
`LORAIRO_DATABASE_URL`): then `<name>/project.toml` records the server's URL, the project is
the schema `project_schema(name)` in that database, and `[database] images_root` may put its
images on a folder every machine mounts.

Deleting a project moves it to `<database_dir>/.trash/` rather than erasing it, so a mistaken
delete can be undone by moving the folder back.
"""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import tomlkit

from lorairo.config import (
    Settings,
    mask_url_password,
    validate_database_url,
    validate_project_name,
    write_private,
)
from lorairo.database.choices import DEFAULT_SCORE_KIND
from lorairo.errors import ProjectNotFoundError, ValidationError
from lorairo.utils.quality_flags import DEFAULT_TRAINING_RESOLUTION

# Typing only: the store (SQLAlchemy) loads when a project opens, so listing projects stays light.
if TYPE_CHECKING:
    from lorairo.database.engine import Database
    from lorairo.database.project_stats import ProjectCounts

DATABASE_FILE = "database.db"
PROJECT_FILE = "project.toml"
IMAGES_DIR = "images"
TRASH_DIR = ".trash"


@dataclass
class Project:
    """An open project. `database` is migrated to the latest revision on open."""

    name: str
    root: Path
    database: Database
    score_kind: str = DEFAULT_SCORE_KIND  # `[search] default_score_kind`
    images_root: Path | None = None  # `[database] images_root`: where `images/...` paths live
    # The resolution an image is `small` for: the largest `[image_processing] target_resolutions`.
    training_resolution: int = DEFAULT_TRAINING_RESOLUTION

    @property
    def database_path(self) -> Path:
        return self.root / DATABASE_FILE

    @property
    def database_location(self) -> str:
        """The SQLite file, or the PostgreSQL URL with its password hidden."""
        return self.database.display_location

    @property
    def images_dir(self) -> Path:
        return self.images_root if self.images_root is not None else self.root / IMAGES_DIR

    @property
    def trash_dir(self) -> Path:
        """Where removed images' files wait (`trash/<edit id>/`), beside the images so a move is
        a rename; under a shared `images_root`, a folder of this project's own."""
        if self.images_root is not None:
            return self.images_root / ".trash" / self.name
        return self.root / "trash"

    def file_path(self, stored: str) -> Path:
        """Where a stored path (`images/...`, relative to the project) is on this machine."""
        if self.images_root is not None:
            parts = Path(stored).parts
            if parts and parts[0] == IMAGES_DIR:
                return self.images_root.joinpath(*parts[1:])
        return self.root / stored

    def close(self) -> None:
        self.database.close()


@dataclass(frozen=True)
class ProjectInfo:
    name: str
    root: Path
    database_path: Path | str
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
        root = self._project_root(name)
        return (root / DATABASE_FILE).is_file() or (root / PROJECT_FILE).is_file()

    def stored_url(self, name: str) -> str | None:
        """The PostgreSQL URL a project's `project.toml` records, or None for a SQLite project."""
        path = self._project_root(name) / PROJECT_FILE
        if not path.is_file():
            return None
        try:
            url = tomllib.loads(path.read_text(encoding="utf-8"))["database"]["url"]
            return validate_database_url(str(url))
        except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"{path}: cannot read the project's database url: {exc}") from exc

    def _database_url(self, name: str, requested: str | None) -> str | None:
        """Where the project lives: its recorded URL, else a SQLite file it already has, else the
        URL asked for (`--database-url`), else the configured one; None = a SQLite file."""
        root = self._project_root(name)
        stored = self.stored_url(name)
        if requested:
            try:
                validate_database_url(requested)
            except ValueError as exc:
                raise ValidationError(str(exc)) from exc
            if (root / DATABASE_FILE).is_file():
                raise ValidationError(
                    f"project {name!r} already lives in {root / DATABASE_FILE}; "
                    f"copy it with `lorairo project migrate {name} --to {mask_url_password(requested)}`"
                )
            if stored is not None and stored != requested:
                raise ValidationError(f"project {name!r} already lives at {mask_url_password(stored)}")
            return requested
        if stored is not None or (root / DATABASE_FILE).is_file():
            return stored
        return self.config.database_url or None

    def create(self, name: str, *, database_url: str | None = None) -> Project:
        """Create a project (or open it if it already exists): idempotent by design."""
        from lorairo.database.engine import Database, project_schema

        root = self._project_root(name)
        url = self._database_url(name, database_url)
        images_root = self.config.images_root
        (images_root or root / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
        if url is None:
            database = Database(root / DATABASE_FILE)
        else:
            database = Database(url, schema=project_schema(name))
            if self.stored_url(name) is None:
                document = tomlkit.document()
                document["database"] = {"url": url}
                write_private(root / PROJECT_FILE, tomlkit.dumps(document))
        return Project(
            name=name,
            root=root,
            database=database,
            score_kind=self.config.config.search.default_score_kind,
            images_root=images_root,
            training_resolution=max(
                self.config.config.image_processing.target_resolutions, default=DEFAULT_TRAINING_RESOLUTION
            ),
        )

    def open(self, name: str | None = None, *, create: bool = False) -> Project:
        """Open a project; the default project is created on first use."""
        from lorairo.database.engine import project_schema, schema_exists

        name = name or self.config.config.directories.database_project_name
        if not self.exists(name):
            url = self.config.database_url
            if create or name == self.config.config.directories.database_project_name:
                return self.create(name)
            if url and schema_exists(url, project_schema(name)):  # made on another machine
                return self.create(name)
                return self.create(name)
            raise ProjectNotFoundError(f"no project named {name!r} in {self.root}")
        return self.create(name)

    def migrate(self, name: str, to: str) -> dict[str, object]:
        """Copy a project to the other engine and switch it there; the source is never deleted.

        `to` is a PostgreSQL URL (from SQLite) or `sqlite` (back into `<project>/database.db`).
        The copy is verified (row counts and checksums) before it commits; on any failure the
        project stays where it was.
        """
        from lorairo.database.engine import Database, project_schema
        from lorairo.database.store_copy import copy_store

        source = self.open(name)
        root = source.root
        try:
            if to == "sqlite":
                if source.database.path is not None:
                    raise ValidationError(f"project {name!r} already lives in SQLite")
                target_file = root / DATABASE_FILE
                if target_file.exists():
                    raise ValidationError(f"{target_file} exists; move it away first")
                target = Database(target_file)
            else:
                try:
                    validate_database_url(to)
                except ValueError as exc:
                    raise ValidationError(str(exc)) from exc
                if source.database.path is None:
                    raise ValidationError(f"project {name!r} already lives in PostgreSQL")
                target = Database(to, schema=project_schema(name))
            try:
                # One write transaction for the whole copy: verified before it commits.
                with target.write_session() as writer, source.database.read_session() as reader:
                    report = copy_store(reader, writer, target.display_location)
            except Exception:
                target.close()
                if to == "sqlite":
                    for leftover in root.glob(DATABASE_FILE + "*"):
                        leftover.unlink()
                raise
            target.close()
        finally:
            source.close()
        if to == "sqlite":
            (root / PROJECT_FILE).rename(root / f"{PROJECT_FILE}.migrated-{datetime.now():%Y%m%d-%H%M%S}")
        else:
            document = tomlkit.document()
            document["database"] = {"url": to}
            write_private(root / PROJECT_FILE, tomlkit.dumps(document))
        return {"name": name, "to": "sqlite" if to == "sqlite" else mask_url_password(to), **report.to_dict()}

    def list(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if (p / DATABASE_FILE).is_file() or (p / PROJECT_FILE).is_file()
        )

    def info(self, name: str) -> ProjectInfo:
        from lorairo.database.project_stats import count_rows

        project = self.open(name)
        try:
            with project.database.read_session() as session:
                counts = count_rows(session)
            revision = project.database.current_revision()
        finally:
            project.close()
        disk = sum(p.stat().st_size for p in project.root.rglob("*") if p.is_file())
        return ProjectInfo(
            name=name,
            root=project.root,
            database_path=project.database_path if project.database.path else project.database_location,
            images_dir=project.images_dir,
            revision=revision,
            counts=counts,
            disk_bytes=disk,
        )

    def delete(self, name: str) -> Path:
        """Move the project to the trash folder and return where it went."""
        root = self._project_root(name)
        if not self.exists(name):
            raise ProjectNotFoundError(f"no project named {name!r} in {self.root}")
        trash = self.root / TRASH_DIR / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"
        trash.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(root), trash)
        return trash
