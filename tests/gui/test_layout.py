"""The window at 1024x640, 1600x1000 and 3840x2160: nothing overlaps or is cut off, the layout is
remembered, the progress panel stays small, and the themes keep controls visible."""

from __future__ import annotations

from itertools import combinations

import pytest
from PySide6.QtCore import QByteArray, QRect, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QApplication,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSplitter,
    QTabBar,
    QWidget,
)
from pytestqt.qtbot import QtBot

from lorairo.gui.main_window import MainWindow
from lorairo.gui.theme import is_dark, theme_manager
from lorairo.gui.widgets import progress_panel
from lorairo.gui.workers import TaskRunner
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditService, EditTarget
from lorairo.services.project_service import ProjectService
from tests.gui.conftest import PROJECT, WaitTask

SIZES = [(1024, 640), (1600, 1000), (3840, 2160)]
LONG_TAGS = ["looking at viewer", "blurry background", "multicolored hair", "holding umbrella"]
SLACK = 2  # frames of tab panes and docks may share a border pixel


def _scrolled(widget: QWidget) -> bool:
    """Inside a scroll area's viewport: content that scrolls may lie beyond its parent."""
    parent = widget.parentWidget()
    while parent is not None:
        grand = parent.parentWidget()
        if isinstance(grand, QAbstractScrollArea) and parent is grand.viewport():
            return True
        parent = grand
    return False


def _visible_children(parent: QWidget) -> list[QWidget]:
    return [
        child
        for child in parent.findChildren(QWidget)
        if child.parentWidget() is parent and child.isVisible() and not child.isWindow()
    ]


def clipping_problems(window: QWidget) -> list[str]:
    """Every visible widget inside its parent, siblings apart, and text given the room it needs."""
    problems = []
    for widget in [window, *window.findChildren(QWidget)]:
        if not widget.isVisible() or (widget.isWindow() and widget is not window) or _scrolled(widget):
            continue
        children = [c for c in _visible_children(widget) if not _scrolled(c)]
        bounds = widget.rect().adjusted(-SLACK, -SLACK, SLACK, SLACK)
        for child in children:
            if not bounds.contains(child.geometry()):
                problems.append(f"{_name(child)} {child.geometry()} outside {_name(widget)} {widget.rect()}")
        for a, b in combinations(children, 2):
            overlap = a.geometry().intersected(b.geometry())
            if overlap.width() > SLACK and overlap.height() > SLACK:
                problems.append(f"{_name(a)} overlaps {_name(b)} by {overlap}")
        problems += _text_problems(widget)
    return problems


def _text_problems(widget: QWidget) -> list[str]:
    metrics = widget.fontMetrics()
    if isinstance(widget, QLabel) and widget.text() and not widget.wordWrap() and widget.textFormat() != 1:
        if not widget.pixmap().isNull() or "<" in widget.text():
            return []
        need = metrics.horizontalAdvance(widget.text()) + 2 * widget.margin() + widget.indent()
        if widget.contentsRect().width() + 1 < need:
            return [f"label {widget.text()!r} cut: {widget.contentsRect().width()} < {need}"]
    if (
        isinstance(widget, QAbstractButton)
        and widget.text()
        and widget.width() + 1 < widget.sizeHint().width()
    ):
        return [f"button {widget.text()!r} cut: {widget.width()} < {widget.sizeHint().width()}"]
    if isinstance(widget, QLineEdit) and widget.placeholderText():
        room = widget.contentsRect().width() - 8 - (24 if widget.isClearButtonEnabled() else 0)
        if metrics.horizontalAdvance(widget.placeholderText()) > room:
            return [f"placeholder {widget.placeholderText()!r} cut ({room} px)"]
    if isinstance(widget, QTabBar):
        for tab in range(widget.count()):
            need = metrics.horizontalAdvance(widget.tabText(tab).replace("&&", "&"))
            rect: QRect = widget.tabRect(tab)
            if rect.width() < need or not widget.rect().contains(rect):
                return [f"tab {widget.tabText(tab)!r} cut: {rect} in {widget.rect()}"]
    return []


def _name(widget: QWidget) -> str:
    return f"{type(widget).__name__}({widget.objectName() or getattr(widget, 'text', lambda: '')()!s:.20})"


def _settle(qtbot: QtBot, window: MainWindow, size: tuple[int, int]) -> None:
    window.resize(*size)
    window.default_layout()
    qtbot.wait(50)
    QApplication.processEvents()


@pytest.fixture
def long_tags(config: ConfigurationService, demo_project: str) -> str:
    project = ProjectService(config).open(demo_project)
    try:
        EditService(project).add_tags(EditTarget(ids=(1, 2, 3)), LONG_TAGS, apply=True)
    finally:
        project.close()
    return demo_project


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_nothing_clipped_or_overlapping(
    qtbot: QtBot, long_tags: str, window: MainWindow, size: tuple[int, int], wait_task: WaitTask
) -> None:
    window.grid.select_rows([0])
    qtbot.waitUntil(lambda: window.inspector.image_id is not None, timeout=10_000)
    qtbot.waitUntil(lambda: len(window.facets.tag_names()) >= 6, timeout=10_000)
    _settle(qtbot, window, size)
    assert window.size().toTuple() == size
    problems = clipping_problems(window)
    assert problems == [], "\n".join(problems)
    # the parts of the frame never cover each other: the image panel ends above the status bar
    parts = [window.menuBar(), window.statusBar(), window.centralWidget()]
    parts += [d for d in (window.facets_dock, window.inspector_dock, window.progress_dock) if d.isVisible()]
    for a, b in combinations(parts, 2):
        assert not a.geometry().intersects(b.geometry()), (_name(a), _name(b))
    if size != SIZES[0]:  # from 1600x1000 up the facets show every tag name whole
        tags = window.facets.tags
        room = tags.viewport().width() - 8
        for row in range(tags.count()):
            assert tags.fontMetrics().horizontalAdvance(tags.item(row).text()) <= room


def test_error_and_empty_result_are_said_at_every_size(qtbot: QtBot, window: MainWindow) -> None:
    window.search_bar.set_text("tag:cat scor:>5")
    qtbot.waitUntil(lambda: window.search_bar.error_label.isVisible(), timeout=10_000)
    bar = window.search_bar
    assert bar.error_column == len("tag:cat ") + 1
    assert f"column {bar.error_column}" in bar.error_label.text()
    assert bar.error_label.geometry().top() >= bar.line.geometry().bottom()  # under the bar
    assert bar.error_label.indent() > bar.line.fontMetrics().horizontalAdvance("tag:ca")
    for size in SIZES:
        _settle(qtbot, window, size)
        assert clipping_problems(window) == []
    window.search_bar.set_text("tag:unicorn")
    qtbot.waitUntil(lambda: window.model.total == 0 and bool(window.view.empty_message), timeout=10_000)
    assert "tag:unicorn" in window.view.empty_message
    window.search_bar.set_text("tag:dogg")  # a typo of a tag the project has: the suggestion spells it
    qtbot.waitUntil(lambda: "try tag:dog" in window.view.empty_message, timeout=10_000)
    assert "(4 images)" in window.view.empty_message
    assert not bar.error_label.isVisible()


def test_window_geometry_docks_and_splitter_are_remembered(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService
) -> None:
    window.resize(960, 700)  # the offscreen screen is 800x800: a larger window is clamped on restore
    window.resizeDocks([window.inspector_dock], [430], Qt.Orientation.Horizontal)
    qtbot.wait(50)
    splitter = window.findChild(QSplitter, "inspector_splitter")
    assert isinstance(splitter, QSplitter)
    splitter.setSizes([300, 400])
    sizes = splitter.sizes()
    width = window.inspector_dock.width()
    window.close()
    again = MainWindow(config)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    saved = again.session.ui_settings.value("window/geometry")
    assert isinstance(saved, QByteArray) and not saved.isEmpty()  # offscreen clamps it to its screen
    assert abs(again.inspector_dock.width() - width) <= 2
    restored = again.findChild(QSplitter, "inspector_splitter")
    assert isinstance(restored, QSplitter) and restored.sizes() == sizes
    again.close()


def test_progress_panel_keeps_only_running_and_failed_rows(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress_panel, "FADE_AFTER_MS", 50)
    monkeypatch.setattr(progress_panel, "FADE_MS", 50)
    runner = TaskRunner(window)
    panel = window.progress

    def boom() -> None:
        raise RuntimeError("disk full")

    ok = panel.track(runner.start("ok", lambda _p, _c: 1), "fine")
    for index in range(progress_panel.MAX_KEPT + 3):  # tracked as they start, as the controllers do
        row = panel.track(runner.start(f"bad {index}", lambda _p, _c: boom()), f"broken {index}")
        qtbot.waitUntil(lambda r=row: r.failed, timeout=10_000)  # type: ignore[misc]
    qtbot.waitUntil(lambda: ok not in panel.rows, timeout=10_000)  # finished: faded out
    assert len(panel.rows) <= progress_panel.MAX_KEPT
    assert all(row.failed and "disk full" in row.status.text() for row in panel.rows)
    for row in list(panel.rows):
        row.cancel_button.click()  # "Dismiss"
    assert panel.rows == [] and window.progress_dock.isHidden()


def test_theme_setting_overrides_and_dark_keeps_checked_radio_visible(
    qtbot: QtBot, config: ConfigurationService
) -> None:
    themes = theme_manager()
    try:
        assert themes.apply("system") == "light"  # offscreen has no colour scheme: light
        config.update_setting("gui", "theme", "dark")
        window = MainWindow(config)
        qtbot.addWidget(window)
        assert themes.current == "dark" and is_dark(QApplication.palette())
        radio = QRadioButton("pick me")
        qtbot.addWidget(radio)
        radio.setChecked(True)
        radio.show()
        qtbot.waitExposed(radio)
        image = radio.grab().toImage()
        indicator = radio.style().subElementRect(
            radio.style().SubElement.SE_RadioButtonIndicator, _option(radio), radio
        )
        centre = QColor(image.pixel(indicator.center()))
        ring = QColor(image.pixel(indicator.center().x() - indicator.width() // 3, indicator.center().y()))
        assert abs(centre.lightness() - ring.lightness()) > 80  # the dot stands out of its ring
        window.close()
    finally:
        themes.apply("light")


def _option(radio: QRadioButton) -> object:
    from PySide6.QtWidgets import QStyleOptionButton

    option = QStyleOptionButton()
    option.initFrom(radio)
    return option


def test_project_name_in_title(window: MainWindow) -> None:
    assert PROJECT in window.windowTitle()
