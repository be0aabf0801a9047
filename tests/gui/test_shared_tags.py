"""Tag editing for a multi-selection (as BooruDatasetTagManager): the inspector says how many images
are selected and lists the union of their tags with "n of N"; an add or a reject applies to all of
them as one undoable edit, with the count before and after. Also rename (here, and everywhere after
a dry run) and accepting a below-threshold model tag, checked in the store."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QMessageBox
from pytestqt.qtbot import QtBot

from image_annotator_lib.local.session_cache import default_session_cache
from lorairo.gui.main_window import MainWindow
from lorairo.gui.widgets.search_bar import quote_tag
from lorairo.gui.widgets.tag_list import STATE_ROLE, TAG_ROLE
from lorairo.services.annotation_service import AnnotationService
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditService
from lorairo.services.project_service import ProjectService
from lorairo.services.search_service import SearchService
from tests.gui.conftest import CATS, IMAGES, PROJECT
from tests.gui.helpers import build_brightness_tagger


def _search(config: ConfigurationService, query: str) -> list[int]:
    """Read through a separate connection, not the window."""
    project = ProjectService(config).open(PROJECT)
    try:
        return SearchService(project).search(query, limit=100).ids
    finally:
        project.close()


def _listed(window: MainWindow) -> list[str]:
    tags = window.inspector.tag_editor.list
    return [tags.item(row).text() for row in range(tags.count())]


def test_three_selected_images_share_one_undoable_add_and_reject(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService
) -> None:
    window.grid.select_rows([0])
    first = window.model.item(0).id
    qtbot.waitUntil(lambda: window.inspector.image_id == first, timeout=10_000)
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        window.inspector.tag_editor.add_requested.emit(["sofa"])  # one of the three has "sofa"

    rows = [0, CATS - 1, CATS]  # two cats and a dog, Ctrl+clicked as a person does
    view = window.view
    for row, modifier in zip(
        rows, (Qt.KeyboardModifier.NoModifier, *[Qt.KeyboardModifier.ControlModifier] * 2), strict=True
    ):
        rect = view.visualRect(window.model.index(row))
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())
    ids = sorted(window.model.item(row).id for row in rows)
    inspector = window.inspector
    qtbot.waitUntil(lambda: inspector.selected_ids == tuple(ids), timeout=10_000)
    assert inspector.image_id is None
    assert "3 images selected" in inspector.meta.text()
    assert "3 images selected" in inspector.tag_editor.selection_label.text()
    assert not inspector.caption.isEnabled(), "one-image editors are off for a selection"
    assert sorted(_listed(window)) == ["cat    2 of 3", "dog    1 of 3", "sofa    1 of 3"]

    editor = inspector.tag_editor
    qtbot.keyClicks(editor.input, "sofa, red")
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        qtbot.keyClick(editor.input, Qt.Key.Key_Return)
    assert sorted(_search(config, "tag:sofa")) == ids and sorted(_search(config, "tag:red")) == ids
    qtbot.waitUntil(lambda: "sofa    3 of 3" in _listed(window), timeout=10_000)
    assert "red    3 of 3" in _listed(window)
    assert "sofa 1 → 3 of 3" in window.statusBar().currentMessage()
    assert "red 0 → 3 of 3" in window.statusBar().currentMessage()

    project = ProjectService(config).open(PROJECT)
    try:
        entry = EditService(project).log(1)[0]
        assert entry.operation == "add_tags" and entry.affected_images == 3, "one edit for all three"
    finally:
        project.close()

    tags = editor.list
    tags.setCurrentRow(_listed(window).index("cat    2 of 3"))
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        qtbot.keyClick(tags, Qt.Key.Key_Delete)
    assert not set(ids) & set(_search(config, "tag:cat")), "rejected on the selected images only"
    assert len(_search(config, "tag:cat")) == CATS - 2
    assert "cat 2 → 0 of 3" in window.statusBar().currentMessage()

    for _ in range(2):
        with qtbot.waitSignal(window.session.edited, timeout=30_000):
            window.actions_by_name["undo"].trigger()
    assert len(_search(config, "tag:cat")) == CATS
    assert _search(config, "tag:red") == [] and _search(config, "tag:sofa") == [first]
    qtbot.waitUntil(lambda: "sofa    1 of 3" in _listed(window), timeout=10_000)


def _rename(qtbot: QtBot, window: MainWindow, old: str, new: str, modifier: Qt.KeyboardModifier) -> None:
    tags = window.inspector.tag_editor.list
    tags.setCurrentRow([tags.item(r).data(TAG_ROLE) for r in range(tags.count())].index(old))
    qtbot.keyClick(tags, Qt.Key.Key_F2, modifier)
    box = tags.findChild(QLineEdit)
    assert box is not None
    box.setText(new)
    qtbot.keyClick(box, Qt.Key.Key_Return)


def test_f2_renames_here_and_shift_f2_everywhere_after_a_dry_run(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService
) -> None:
    window.grid.select_rows([0])
    image_id = window.model.item(0).id
    qtbot.waitUntil(
        lambda: window.inspector.image_id == image_id and _listed(window) == ["cat"], timeout=10_000
    )
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        _rename(qtbot, window, "cat", "kitten", Qt.KeyboardModifier.NoModifier)
    assert _search(config, "tag:kitten") == [image_id]
    assert len(_search(config, "tag:cat")) == CATS - 1
    qtbot.waitUntil(lambda: _listed(window) == ["kitten"], timeout=10_000)

    binding = window.edit.tag_edits
    _rename(qtbot, window, "kitten", "cat", Qt.KeyboardModifier.NoModifier)
    qtbot.waitUntil(lambda: _listed(window) == ["cat"], timeout=10_000)
    _rename(qtbot, window, "cat", "feline", Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: binding.confirm is not None, timeout=30_000)
    assert binding.confirm is not None
    assert f"on {CATS} image(s)" in binding.confirm.text(), "the dry run's count, before anything changes"
    assert len(_search(config, "tag:cat")) == CATS
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        binding.confirm.done(QMessageBox.StandardButton.Ok)
    assert len(_search(config, "tag:feline")) == CATS and _search(config, "tag:cat") == []
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        window.actions_by_name["undo"].trigger()
    assert len(_search(config, "tag:cat")) == CATS, "everywhere is one edit: one undo"


def test_clicking_a_below_threshold_model_tag_accepts_it(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService, tmp_path: Path
) -> None:
    folder = build_brightness_tagger(tmp_path / "models" / "brightness")
    config.annotator_config_path.write_text(
        f'[brightness-tagger]\nclass = "WDTagger"\nmodel_path = "{folder.as_posix()}"\n', encoding="utf-8"
    )
    config.update_setting("annotation", "general_threshold", 0.99)  # every general tag below it
    default_session_cache.clear()
    project = ProjectService(config).open(PROJECT)
    try:
        assert AnnotationService(project, config).run(["brightness-tagger"]).images_annotated == IMAGES
    finally:
        project.close()

    window.grid.select_rows([0])
    image_id = window.model.item(0).id
    tags = window.inspector.tag_editor.list
    qtbot.waitUntil(lambda: window.inspector.image_id == image_id and tags.count() >= 2, timeout=30_000)
    states = {tags.item(r).data(TAG_ROLE): tags.item(r).data(STATE_ROLE) for r in range(tags.count())}
    candidates = [tag for tag, state in states.items() if state == "candidate"]
    assert states["cat"] == "accepted" and candidates, states
    assert _search(config, f"tag:{quote_tag(candidates[0])}") == []
    row = [tags.item(r).data(TAG_ROLE) for r in range(tags.count())].index(candidates[0])
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        qtbot.mouseClick(
            tags.viewport(), Qt.MouseButton.LeftButton, pos=tags.visualItemRect(tags.item(row)).center()
        )
    assert _search(config, f"tag:{quote_tag(candidates[0])}") == [image_id]
    qtbot.waitUntil(
        lambda: any(
            tags.item(r).data(TAG_ROLE) == candidates[0] and tags.item(r).data(STATE_ROLE) == "accepted"
            for r in range(tags.count())
        ),
        timeout=10_000,
    )
