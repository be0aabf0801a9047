"""Review mode on a real window over a real project: a keyboard-only session over 200 images (key
presses counted, every edit checked in the store), next/previous from every box, "only unreviewed",
and the position and zoom remembered per project."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from lorairo.gui.app import create_window
from lorairo.gui.main_window import MainWindow
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditService, EditTarget
from lorairo.services.project_service import ProjectService
from lorairo.services.registration_service import RegistrationService
from lorairo.services.search_service import SearchService
from tests.factories import make_image_file
from tests.gui.conftest import IMAGES, PROJECT
from tests.gui.review_script import KeyLog, listed, review_session

SESSION_IMAGES = 200
SIZES = [(64, 48), (48, 64), (80, 80), (120, 40)]


def _open(qtbot: QtBot, config: ConfigurationService, name: str, count: int) -> MainWindow:
    main = create_window(config, name)
    qtbot.addWidget(main)
    main.show()
    main.activateWindow()
    qtbot.waitUntil(lambda: main.project is not None and main.model.total == count, timeout=60_000)
    qtbot.waitUntil(lambda: main.model.item(0) is not None, timeout=10_000)
    return main


@pytest.fixture
def big_window(qtbot: QtBot, config: ConfigurationService, tmp_path: Path) -> Iterator[MainWindow]:
    """200 registered images of several sizes and aspect ratios, each with the manual tag "draft"."""
    folder = tmp_path / "many"
    for index in range(SESSION_IMAGES):
        make_image_file(folder / f"img_{index:03d}.png", SIZES[index % len(SIZES)], seed=index)
    project = ProjectService(config).create("many")
    try:
        assert RegistrationService(project, config).register([folder]).counts.registered == SESSION_IMAGES
        EditService(project).add_tags(EditTarget(query="all"), ["draft"], apply=True)
    finally:
        project.close()
    main = _open(qtbot, config, "many", SESSION_IMAGES)
    yield main
    main.close()


def _waiter(qtbot: QtBot) -> Callable[[Callable[[], bool]], None]:
    return lambda condition: qtbot.waitUntil(condition, timeout=30_000)


def test_keyboard_only_review_of_200_images_takes_four_key_presses_each(
    qtbot: QtBot, big_window: MainWindow, config: ConfigurationService
) -> None:
    log = KeyLog()
    reviewed = review_session(big_window, SESSION_IMAGES, _waiter(qtbot), log)
    assert len(set(reviewed)) == SESSION_IMAGES, "every image once, in the queue's order"
    per_image = (log.presses - 1) / SESSION_IMAGES  # the one F that entered review mode
    assert per_image == 4, log.by_key
    assert log.by_key == {"F": 1, "Enter": 200, "Down": 200, "Delete": 200, "Ctrl+Enter": 200}

    project = ProjectService(config).open("many")
    try:
        search = SearchService(project)
        assert search.count("reviewed") == SESSION_IMAGES
        assert search.count("tag:draft") == 0 and search.count("rejected:draft") == SESSION_IMAGES
        for index, image_id in enumerate(reviewed[:: SESSION_IMAGES // 10]):
            tags = search.summaries([image_id])[0].tags
            assert tags == [f"look {index * (SESSION_IMAGES // 10)}"], (image_id, tags)
        log_entries = EditService(project).log(3)
        assert [e.operation for e in log_entries] == ["mark_reviewed", "reject_tags", "add_tags"]
    finally:
        project.close()


def _enter(qtbot: QtBot, window: MainWindow, row: int = 0) -> None:
    window.grid.select_rows([row])
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Return)  # Enter on the grid opens review mode
    review = window.review
    qtbot.waitUntil(lambda: review.active and review.shown_id is not None, timeout=30_000)
    assert window.pages.currentWidget() is window.review_page
    assert not window.inspector_dock.isVisible(), "the image gets the window"


def test_next_and_previous_work_from_every_box(qtbot: QtBot, window: MainWindow) -> None:
    _enter(qtbot, window, 2)
    review, page = window.review, window.review_page
    assert review.position == 2
    assert "3 of 10" in page.position.text()
    boxes = [page.tag_editor.input, page.tag_editor.list, page.caption.edit, page.view]
    position = 2
    for box in boxes:
        for key, modifier, step in (
            (Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier, 1),
            (Qt.Key.Key_PageDown, Qt.KeyboardModifier.NoModifier, 1),
            (Qt.Key.Key_PageUp, Qt.KeyboardModifier.NoModifier, -1),
            (Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier, -1),
            (Qt.Key.Key_PageDown, Qt.KeyboardModifier.NoModifier, 1),
        ):
            box.setFocus()
            qtbot.keyClick(box, key, modifier)
            position += step
            assert review.position == position, (box, key)
    strip = page.filmstrip
    qtbot.waitUntil(lambda: len(strip._cells()) >= 3, timeout=30_000)
    rect, item = next((r, i) for r, i in strip._cells() if i.position == position - 1)
    qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=rect.center())  # a neighbour in the strip
    position -= 1
    assert review.position == position and strip.current == position
    image_id = review.current_id()
    assert image_id == item.image_id
    qtbot.waitUntil(lambda: review.shown_id == image_id and page.view.image.width() > 0, timeout=30_000)

    page.view.setFocus()
    qtbot.keyClick(page.view, Qt.Key.Key_F)  # F (outside a text box) goes back to the grid
    assert not review.active and window.pages.currentIndex() == 0
    assert window.grid.current_image_id() == image_id, "the grid shows where review ended"


def test_position_zoom_and_only_unreviewed_are_remembered_per_project(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService
) -> None:
    _enter(qtbot, window, 4)
    review, page = window.review, window.review_page
    image_id = review.current_id()
    page.view.set_zoom(2.0)
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        qtbot.keyClick(page.tag_editor.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert review.position == 5
    qtbot.keyClick(page.tag_editor.input, Qt.Key.Key_Escape)
    assert not review.active
    window.close()

    again = _open(qtbot, config, PROJECT, IMAGES)
    try:
        again.review.enter(again.search.query(), again.model.sort_key)  # no image asked for
        qtbot.waitUntil(lambda: again.review.shown_id is not None, timeout=30_000)
        assert again.review.position == 5 and again.review_page.view.zoom == 2.0
        qtbot.mouseClick(again.review_page.only_unreviewed, Qt.MouseButton.LeftButton)  # one click
        qtbot.waitUntil(lambda: len(again.review.queue) == IMAGES - 1, timeout=30_000)
        assert image_id not in again.review.queue
        qtbot.waitUntil(lambda: again.review.shown_id is not None, timeout=30_000)
        assert again.review.current_id() == again.review.queue[4], "still on the image it was on"
        again.review.leave()
    finally:
        again.close()
    project = ProjectService(config).open(PROJECT)
    try:
        assert SearchService(project).search("reviewed").ids == [image_id]
    finally:
        project.close()


def test_tag_box_keeps_focus_and_undo_works_inside_review(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService
) -> None:
    _enter(qtbot, window, 0)
    review, page = window.review, window.review_page
    image_id = review.current_id()
    qtbot.keyClicks(page.tag_editor.input, "window light")
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        qtbot.keyClick(page.tag_editor.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: ("window light", "accepted") in listed(window), timeout=30_000)
    assert QApplication.focusWidget() in (page.tag_editor.input, None)
    tags = page.tag_editor.list
    tags.setFocus()
    tags.setCurrentRow(1)
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        qtbot.keyClick(tags, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)  # a hand-made order
    qtbot.waitUntil(lambda: [t for t, _ in listed(window)] == ["window light", "cat"], timeout=30_000)
    assert tags.currentRow() == 0, "the moved tag stays selected"
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        window.actions_by_name["undo"].trigger()
    qtbot.waitUntil(lambda: [t for t, _ in listed(window)] == ["cat", "window light"], timeout=30_000)
    page.focus_input()
    assert page.tag_editor.tokens.text().split(" /")[0].isdigit()
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        qtbot.keyClick(page.tag_editor.input, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: ("window light", "accepted") not in listed(window), timeout=30_000)
    project = ProjectService(config).open(PROJECT)
    try:
        assert SearchService(project).summaries([image_id])[0].tags == ["cat"]
    finally:
        project.close()


def test_a_missing_original_and_an_empty_search_are_said_not_fatal(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService
) -> None:
    project = ProjectService(config).open(PROJECT)
    try:
        stored = project.root / SearchService(project).details([window.model.item(1).id])[0]["stored_path"]
    finally:
        project.close()
    stored.unlink()  # the file went away behind the project's back
    _enter(qtbot, window, 1)
    page = window.review_page
    qtbot.waitUntil(lambda: page.view.message == "This image cannot be read", timeout=30_000)
    assert listed(window) == [("cat", "accepted")], "its tags are still there to edit"
    qtbot.keyClick(page.tag_editor.input, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: not page.view.image.isNull(), timeout=30_000)
    qtbot.keyClick(page.tag_editor.input, Qt.Key.Key_Escape)

    window.search_bar.set_text("tag:nothing_has_this")
    qtbot.waitUntil(lambda: window.model.total == 0, timeout=30_000)
    window.enter_review()
    qtbot.waitUntil(lambda: "Nothing to review" in page.view.message, timeout=30_000)
    for key, modifier in (
        (Qt.Key.Key_PageDown, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier),
    ):
        qtbot.keyClick(page.tag_editor.input, key, modifier)
    assert window.review.current_id() is None and page.position.text() == "nothing to review"


def test_alt_arrows_in_the_inspector_tag_box_move_through_the_grid(qtbot: QtBot, window: MainWindow) -> None:
    window.grid.select_rows([3])
    inspector = window.inspector
    qtbot.waitUntil(lambda: inspector.image_id == window.model.item(3).id, timeout=10_000)
    box = inspector.tag_editor.input
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: inspector.image_id == window.model.item(4).id, timeout=10_000)
    qtbot.keyClick(box, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(box, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: inspector.image_id == window.model.item(2).id, timeout=10_000)
    assert window.grid.selection_count() == 1
    assert QApplication.focusWidget() in (box, None), "the tag box keeps the keyboard"


def test_a_caption_typed_in_review_survives_closing_the_window(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService
) -> None:
    _enter(qtbot, window, 0)
    image_id = window.review.current_id()
    qtbot.waitUntil(lambda: window.review_page.caption.isEnabled(), timeout=30_000)
    qtbot.keyClicks(window.review_page.caption.edit, "typed, never saved by hand")
    window.close()
    assert window.inspector_dock.isVisible() or not window.isVisible()
    project = ProjectService(config).open(PROJECT)
    try:
        captions = SearchService(project).details([image_id])[0]["captions"]
    finally:
        project.close()
    assert [(c["caption"], c["source"]) for c in captions] == [("typed, never saved by hand", "manual")]
