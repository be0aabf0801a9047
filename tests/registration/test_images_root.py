"""`[database] images_root`: image files on a folder every machine mounts, paths in the store relative to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from lorairo.database.schema import Image
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import ProjectService
from lorairo.services.registration_service import RegistrationService
from tests.factories import make_image_file

pytestmark = pytest.mark.usefixtures("store_engine")


def test_files_go_to_the_shared_root_and_the_store_keeps_relative_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "nfs" / "team-images"
    monkeypatch.setenv("LORAIRO_IMAGES_ROOT", str(shared))
    config = ConfigurationService()
    project = ProjectService(config).create("shared")
    source = tmp_path / "source"
    make_image_file(source / "a.png", (640, 480), seed=1)
    make_image_file(source / "b.jpg", (300, 900), seed=2, fmt="JPEG")
    report = RegistrationService(project, config).register([source])
    assert report.counts.registered == 2
    with project.database.read_session() as session:
        stored = session.execute(select(Image.stored_path, Image.thumbnail_path)).all()
    for original, thumbnail in stored:
        assert not Path(original).is_absolute() and original.startswith("images/")
        assert project.file_path(original).is_file()
        assert project.file_path(original).is_relative_to(shared)
        assert thumbnail is None or project.file_path(thumbnail).is_relative_to(shared)
    assert not any((project.root / "images").rglob("*.png"))
    project.close()
    # Another machine mounts the same folder elsewhere: the same rows resolve there.
    moved = tmp_path / "mnt" / "images"
    moved.parent.mkdir()
    shared.rename(moved)
    monkeypatch.setenv("LORAIRO_IMAGES_ROOT", str(moved))
    again = ProjectService(ConfigurationService()).open("shared")
    with again.database.read_session() as session:
        paths = session.scalars(select(Image.stored_path)).all()
    assert all(again.file_path(path).is_file() for path in paths)
    again.close()
