"""The duplicates view in the real window, offscreen, on a registered project with tiny-CLIP
embeddings: semantic groups best first with thumbnails, "Keep best" per group and for all groups
(dry-run count first, then one edit each, checked in the database), Ctrl+Z restoring them, the pHash
groups, and a clicked member shown in the grid; finding groups shows its progress and a Cancel
that stops it and keeps nothing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PIL import Image as PILImage
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from lorairo.database.edit_repository import EditRepository
from lorairo.database.embedding_repository import EmbeddingRepository
from lorairo.gui.app import create_window
from lorairo.gui.dialogs.duplicates_dialog import DuplicatesDialog
from lorairo.gui.main_window import MainWindow
from lorairo.gui.workers import TaskRunner
from lorairo.services.annotation_service import AnnotationService
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.progress import ProgressCallback, no_progress
from lorairo.services.project_service import Project, ProjectService
from lorairo.services.registration_service import RegistrationService
from lorairo.services.similarity_service import CACHE_DIR, DuplicatesReport, SimilarityService
from tests.similarity.helpers import PROJECTION, real_signatures
from tests.similarity.test_duplicates_progress import near_pairs

SHADES = {  # name: (colour, size); the tiny CLIP sees the mean colour only
    "red-big.png": ((230, 20, 20), (96, 64)),
    "red-small.png": ((230, 20, 20), (48, 32)),
    "blue.png": ((20, 20, 230), (50, 50)),
    "blue-2.png": ((25, 30, 220), (30, 70)),
    "green.png": ((20, 230, 20), (64, 64)),
}


def embedded_project(config: ConfigurationService, tmp_path: Path) -> dict[str, int]:
    """Register the shades (thumbnails, pHash links) and embed them with a tiny CLIP."""
    source = tmp_path / "shades"
    source.mkdir()
    for name, (colour, size) in SHADES.items():
        PILImage.new("RGB", size, colour).save(source / name)
    folder = tmp_path / "clip"
    real_signatures().build_clip_encoder(folder / "onnx" / "vision_model.onnx", PROJECTION)
    config.annotator_config_path.write_text(
        f'[tiny-clip]\nclass = "ImageEmbedder"\nmodel_path = "{folder.as_posix()}"\ninput_size = 32\n',
        encoding="utf-8",
    )
    project = ProjectService(config).create("dups")
    try:
        assert RegistrationService(project, config).register([source]).counts.registered == len(SHADES)
        assert AnnotationService(project, config).run(["tiny-clip"]).embeddings_stored == len(SHADES)
        with project.database.read_session() as session:
            facts = EmbeddingRepository.facts(session, range(1, 10), project.score_kind)
        return {fact.name: fact.id for fact in facts.values()}
    finally:
        project.close()


def rejected(config: ConfigurationService, ids: dict[str, int]) -> set[str]:
    """The names of the images rejected from export, read from the database."""
    project = ProjectService(config).open("dups")
    try:
        with project.database.read_session() as session:
            facts = EmbeddingRepository.facts(session, list(ids.values()), project.score_kind)
        return {fact.name for fact in facts.values() if fact.export_rejected}
    finally:
        project.close()


def open_dialog(qtbot: QtBot, window: MainWindow) -> DuplicatesDialog:
    window.actions_by_name["find_duplicates"].trigger()
    dialog = window.duplicates.dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=30_000)
    return dialog


def test_keep_best_from_the_duplicates_view_is_one_undoable_edit(
    qtbot: QtBot, config: ConfigurationService, tmp_path: Path
) -> None:
    ids = embedded_project(config, tmp_path)
    window = create_window(config, "dups")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.project is not None and window.model.total == len(SHADES), timeout=30_000)
    assert window.actions_by_name["find_duplicates"].shortcut().toString() == "Ctrl+Shift+D"
    dialog = open_dialog(qtbot, window)
    assert dialog.method.currentData() == "semantic" and dialog.model.currentData() == "tiny-clip"
    dialog.threshold.setValue(0.995)
    dialog.find_groups()
    qtbot.waitUntil(lambda: dialog.report is not None and dialog.report.threshold == 0.995, timeout=30_000)
    groups = {
        tuple(tile.member.id for tile in card.tiles): card.group.keep for card in dialog.cards
    }  # best first: red-big has more pixels, blue (2500 px) beats blue-2 (2100 px)
    assert groups == {
        (ids["red-big.png"], ids["red-small.png"]): ids["red-big.png"],
        (ids["blue.png"], ids["blue-2.png"]): ids["blue.png"],
    }
    best = [tile for card in dialog.cards for tile in card.tiles if tile.best]
    assert all("★ keep" in tile.text() for tile in best) and len(best) == 2
    tiles = [tile for card in dialog.cards for tile in card.tiles]
    qtbot.waitUntil(lambda: all(not tile.icon().isNull() for tile in tiles), timeout=10_000)  # thumbnails
    assert "Keep best would reject 2 images from export" in dialog.summary.text()

    red = next(card for card in dialog.cards if card.group.keep == ids["red-big.png"])
    qtbot.mouseClick(red.keep_best, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.apply_button.isEnabled, timeout=10_000)
    assert "<b>1 image</b> would be rejected" in dialog.pending.text()
    assert rejected(config, ids) == set()  # the dry run wrote nothing
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: rejected(config, ids) == {"red-small.png"}, timeout=10_000)
    qtbot.waitUntil(
        lambda: "Keep best would reject 1 image from export" in dialog.summary.text(), timeout=10_000
    )

    qtbot.mouseClick(dialog.keep_all, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.apply_button.isEnabled, timeout=10_000)
    assert "all 2 groups: <b>1 image</b>" in dialog.pending.text()  # red-small is rejected already
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: rejected(config, ids) == {"red-small.png", "blue-2.png"}, timeout=10_000)
    qtbot.waitUntil(lambda: not dialog.keep_all.isEnabled(), timeout=10_000)

    window.actions_by_name["undo"].trigger()  # Ctrl+Z: the all-groups edit, and only it
    qtbot.waitUntil(lambda: rejected(config, ids) == {"red-small.png"}, timeout=10_000)
    window.actions_by_name["undo"].trigger()
    qtbot.waitUntil(lambda: rejected(config, ids) == set(), timeout=10_000)
    qtbot.waitUntil(
        lambda: "Keep best would reject 2 images from export" in dialog.summary.text(), timeout=10_000
    )

    blue = next(card for card in dialog.cards if card.group.keep == ids["blue.png"])
    qtbot.mouseClick(blue.tiles[1], Qt.MouseButton.LeftButton)  # show blue-2 in the grid
    assert window.search_bar.text == f"id:{ids['blue.png']} OR id:{ids['blue-2.png']}"
    qtbot.waitUntil(lambda: window.grid.current_image_id() == ids["blue-2.png"], timeout=10_000)

    dialog.method.setCurrentIndex(dialog.method.findData("phash"))
    assert not dialog.threshold.isEnabled()
    dialog.find_groups()
    qtbot.waitUntil(lambda: dialog.report is not None and dialog.report.method == "phash", timeout=30_000)
    for card in dialog.cards:  # whatever registration linked, each group is best first
        pixels = [tile.member.width * tile.member.height for tile in card.tiles]
        assert pixels == sorted(pixels, reverse=True)
    dialog.close()
    assert window.duplicates.dialog is None
    window.close()


class HeldService(SimilarityService):
    """The real service on the real store, held at its first progress report until the test lets
    it go, so the dialog can be seen (and cancelled) mid-search without racing the worker."""

    def __init__(self, project: Project) -> None:
        super().__init__(project)
        self.reached, self.release = threading.Event(), threading.Event()

    def duplicates(self, *, progress: ProgressCallback = no_progress, **options: Any) -> DuplicatesReport:
        def held(done: int, total: int | None, message: str = "") -> None:
            progress(done, total, message)
            if not self.reached.is_set():
                self.reached.set()
                self.release.wait(30)

        return super().duplicates(progress=held, **options)


def test_finding_groups_shows_progress_and_cancel_keeps_nothing(qtbot: QtBot, project: Project) -> None:
    expected = near_pairs(project)
    service = HeldService(project)
    runner = TaskRunner()
    dialog = DuplicatesDialog(service, runner, project.file_path)
    qtbot.addWidget(dialog)
    dialog.show()
    try:
        qtbot.waitUntil(service.reached.is_set, timeout=30_000)  # the search is under way
        qtbot.waitUntil(lambda: dialog.find_progress.format().startswith("Indexing vectors"), timeout=10_000)
        assert dialog.find_progress.isVisible() and dialog.stop_button.isVisible()
        # the first of two passes over the 28 stored vectors: (28, 56)
        assert (dialog.find_progress.value(), dialog.find_progress.maximum()) == (28, 56)
        assert not dialog.find_button.isEnabled() and dialog.summary.text() == "Finding groups…"

        qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
        assert not dialog.stop_button.isEnabled() and dialog.find_progress.format() == "Cancelling…"
        service.release.set()
        qtbot.waitUntil(lambda: dialog.summary.text().startswith("Cancelled"), timeout=30_000)
        assert "nothing was changed" in dialog.summary.text()
        assert dialog.report is None and dialog.cards == [] and not dialog.keep_all.isEnabled()
        assert not dialog.find_progress.isVisible() and not dialog.stop_button.isVisible()
        assert dialog.find_button.isEnabled()
        assert not (project.root / CACHE_DIR).exists() or not any((project.root / CACHE_DIR).iterdir())
        with project.database.read_session() as session:
            assert EditRepository.entries(session, 10) == []

        qtbot.mouseClick(dialog.find_button, Qt.MouseButton.LeftButton)  # again, to the end
        qtbot.waitUntil(lambda: dialog.report is not None, timeout=30_000)
        assert sorted(sorted(tile.member.id for tile in card.tiles) for card in dialog.cards) == expected
        assert not dialog.find_progress.isVisible() and dialog.summary.text().startswith("<b>8 groups</b>")
    finally:
        service.release.set()
        dialog.close()
        runner.shutdown()
