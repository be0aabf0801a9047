"""A real small project, registered through RegistrationService, and the window opened on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from lorairo.gui.app import create_window
from lorairo.gui.main_window import MainWindow
from lorairo.gui.workers import Task
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditService, EditTarget
from lorairo.services.project_service import ProjectService
from lorairo.services.registration_service import RegistrationService
from tests.factories import make_image_file

PROJECT = "demo"
IMAGES = 10
CATS = 6  # images 1..6 carry the manual tag "cat", 7..10 carry "dog"

WaitTask = Callable[[Task], object]


@pytest.fixture
def source_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "incoming"
    for index in range(IMAGES):
        make_image_file(folder / f"photo_{index:02d}.png", (96, 72), seed=index)
    return folder


@pytest.fixture
def demo_project(config: ConfigurationService, source_folder: Path) -> str:
    """Ten registered images (real files, thumbnails on disk) with manual cat/dog tags."""
    project = ProjectService(config).create(PROJECT)
    try:
        report = RegistrationService(project, config).register([source_folder])
        assert report.counts.registered == IMAGES
        edits = EditService(project)
        edits.add_tags(EditTarget(ids=tuple(range(1, CATS + 1))), ["cat"], apply=True)
        edits.add_tags(EditTarget(ids=tuple(range(CATS + 1, IMAGES + 1))), ["dog"], apply=True)
    finally:
        project.close()
    return PROJECT


@pytest.fixture
def wait_task(qtbot: QtBot) -> WaitTask:
    def wait(task: Task, timeout: int = 60_000) -> object:
        qtbot.waitUntil(lambda: task.done, timeout=timeout)
        if task.error is not None:
            raise task.error
        return task.result

    return wait


@pytest.fixture
def window(qtbot: QtBot, config: ConfigurationService, demo_project: str) -> Iterator[MainWindow]:
    main = create_window(config, demo_project)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitUntil(lambda: main.project is not None and main.model.total == IMAGES, timeout=30_000)
    qtbot.waitUntil(lambda: main.model.item(0) is not None, timeout=10_000)
    yield main
    main.close()
