"""Annotate (tiny ONNX tagger built here), export with preview, settings with masked keys, and the
thumbnail machinery's bounds."""

from __future__ import annotations

from pathlib import Path

from PIL import Image as PILImage
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit
from pytestqt.qtbot import QtBot

from image_annotator_lib.local.session_cache import default_session_cache
from lorairo.gui.dialogs.settings_dialog import SettingsDialog
from lorairo.gui.main_window import MainWindow
from lorairo.gui.models.thumbnail_loader import ThumbnailLoader, decode_thumbnail
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import ProjectService
from lorairo.services.search_service import SearchService
from lorairo.utils.masking import mask_api_key
from tests.gui.conftest import IMAGES, PROJECT
from tests.gui.helpers import build_brightness_tagger


def test_annotate_dialog_runs_a_local_onnx_tagger(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService, tmp_path: Path
) -> None:
    folder = build_brightness_tagger(tmp_path / "models" / "brightness")
    config.annotator_config_path.write_text(
        f'[brightness-tagger]\nclass = "WDTagger"\nmodel_path = "{folder.as_posix()}"\n', encoding="utf-8"
    )
    default_session_cache.clear()
    dialog = window.annotate.open_dialog(window)
    assert dialog is not None
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.run_button.isEnabled, timeout=30_000)
    labels = [dialog.models.item(row).text() for row in range(dialog.models.count())]
    assert any(label.startswith("brightness-tagger") and "installed" in label for label in labels)
    assert not any("API" in label for label in labels)  # no provider has a key
    dialog.check_model("brightness-tagger")
    dialog.on_missing.setChecked(True)
    dialog.batch_size.setValue(4)
    with qtbot.waitSignal(dialog.finished_run, timeout=120_000) as finished:
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    report = finished.args[0]
    assert report.images_annotated == IMAGES and report.failures == 0
    assert "brightness-tagger: 10 annotated, 0 failed" in dialog.rate.text()
    project = ProjectService(config).open(PROJECT)
    try:
        assert SearchService(project).count("model:brightness-tagger") == IMAGES
    finally:
        project.close()

    window.grid.select_rows([0])
    qtbot.waitUntil(lambda: window.inspector.tags_tree.topLevelItemCount() >= 2, timeout=10_000)
    groups = [
        window.inspector.tags_tree.topLevelItem(i).text(0)
        for i in range(window.inspector.tags_tree.topLevelItemCount())
    ]
    assert any(group.startswith("brightness-tagger") for group in groups)
    dialog.close()


def test_annotate_dialog_lists_api_models_only_for_providers_with_a_key(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService
) -> None:
    config.update_setting("api", "openai_key", "sk-test-0123456789abcdefghij")
    dialog = window.annotate.open_dialog(window)
    assert dialog is not None
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.run_button.isEnabled, timeout=30_000)
    labels = [dialog.models.item(row).text() for row in range(dialog.models.count())]
    assert any("API: openai" in label for label in labels)
    assert not any("API: anthropic" in label or "API: google" in label for label in labels)
    dialog.close()


def test_export_dialog_previews_counts_and_exports(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    window.grid.select_rows([0])
    first = window.model.item(0)
    dialog = window.export.open_dialog(window)
    assert dialog is not None
    qtbot.addWidget(dialog)
    target = tmp_path / "out"
    dialog.target.setText(str(target))
    dialog.trigger.setText("ohwx")
    qtbot.waitUntil(lambda: dialog.count_label.text() == f"{IMAGES} images would be exported", timeout=10_000)
    qtbot.waitUntil(lambda: dialog.preview.toPlainText().startswith("ohwx"), timeout=10_000)
    assert "cat" in dialog.preview.toPlainText()
    assert f"#{first.id}" in dialog.preview_title.text() and ".txt" in dialog.preview_title.text()

    dialog.on_selection.setChecked(True)
    qtbot.waitUntil(lambda: dialog.count_label.text() == "1 image would be exported", timeout=10_000)
    dialog.on_all.setChecked(True)
    qtbot.waitUntil(lambda: dialog.count_label.text() == f"{IMAGES} images would be exported", timeout=10_000)
    with qtbot.waitSignal(dialog.exported, timeout=60_000) as exported:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert exported.args[0].exported == IMAGES
    texts = sorted(target.glob("*.txt"))
    assert len(texts) == IMAGES
    assert all(path.read_text(encoding="utf-8").startswith("ohwx") for path in texts)

    dialog.num_repeats.setValue(1)
    dialog.replace_tags.setText("no equals sign")
    qtbot.waitUntil(lambda: "expected NAME=VALUE" in dialog.error.text(), timeout=5_000)
    assert not dialog.export_button.isEnabled()


def test_settings_save_immediately_and_show_keys_masked(qtbot: QtBot, config: ConfigurationService) -> None:
    key = "sk-proj-SECRETabcdefghijklmnop1234"
    dialog = SettingsDialog(config)
    qtbot.addWidget(dialog)
    dialog.show()
    entry = dialog.secret_inputs[("api", "openai_key")]
    entry.setFocus()
    qtbot.keyClicks(entry, key)
    qtbot.keyClick(entry, Qt.Key.Key_Return)
    assert ConfigurationService(config.path).config.api.openai_key == key
    on_screen = [w.text() for w in dialog.findChildren(QLineEdit)] + [
        w.text() for w in dialog.findChildren(QLabel)
    ]
    assert not any(key in text for text in on_screen)
    assert dialog.secret_labels[("api", "openai_key")].text() == mask_api_key(key)

    level = dialog.fields[("log", "level")]
    level.setCurrentText("DEBUG")  # type: ignore[attr-defined]
    level.activated.emit(level.currentIndex())  # type: ignore[attr-defined]
    assert ConfigurationService(config.path).config.log.level == "DEBUG"

    a_file = config.path.parent / "not-a-dir.txt"
    a_file.write_text("x")
    projects = dialog.fields[("directories", "database_dir")]
    projects.setText(str(a_file))  # type: ignore[attr-defined]
    projects.editingFinished.emit()  # type: ignore[attr-defined]
    assert dialog.status.text().startswith("Not saved")
    assert ConfigurationService(config.path).config.directories.database_dir != str(a_file)
    assert projects.text() != str(a_file)  # type: ignore[attr-defined]


def test_thumbnails_decode_at_thumbnail_size_into_a_bounded_cache(qtbot: QtBot, tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    PILImage.new("RGB", (1600, 1200), (10, 200, 30)).save(big)
    decoded = decode_thumbnail(big, 64)
    assert (decoded.width(), decoded.height()) == (64, 48)
    assert decode_thumbnail(tmp_path / "missing.png", 64).isNull()

    loader = ThumbnailLoader(cache_bytes=3 * 64 * 48 * 4)
    loader.set_edge(64)
    for image_id in range(10):
        assert loader.get(image_id, big) is None
    qtbot.waitUntil(lambda: loader.pool.activeThreadCount() == 0 and not loader._queue, timeout=10_000)
    qtbot.wait(50)
    assert 1 <= loader.cached_count <= 3
    loader.shutdown()
