"""A scripted, keyboard-only review session on a real window: every key goes to the widget that has
focus, as a person's would, and is counted. Shared by the GUI test and `benchmarks/gui_bench.py`.

Per image: type a new tag and press Enter (add), Down and Delete (reject the first tag), Ctrl+Enter
(mark reviewed, next image). Characters typed are counted apart from key presses. Between keys the
script waits for what a person would look at (the image's tags on screen), never clicking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from lorairo.gui.main_window import MainWindow

Wait = Callable[[Callable[[], bool]], None]


@dataclass
class KeyLog:
    presses: int = 0
    typed: int = 0
    by_key: dict[str, int] = field(default_factory=dict)

    def focused(self, window: MainWindow) -> QWidget:
        """Where Qt sends a key: an open popup (a completion list) first, else the focus widget.

        The offscreen platform makes a completion popup the active window and leaves it so once
        the popup closes (a window system keeps the main window active); the window is made
        active again, as it would be, before the key."""
        popup = QApplication.activePopupWidget()
        if popup is None and QApplication.activeWindow() is not window:
            window.activateWindow()
            QApplication.processEvents()
        widget = popup or QApplication.focusWidget()
        assert widget is not None and widget.window() in (window, widget), "the keyboard is in the window"
        return widget

    def press(
        self,
        window: MainWindow,
        key: Qt.Key,
        modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
        name: str = "",
    ) -> None:
        QTest.keyClick(self.focused(window), key, modifier)
        self.presses += 1
        label = name or str(key)
        self.by_key[label] = self.by_key.get(label, 0) + 1

    def type(self, window: MainWindow, text: str) -> None:
        QTest.keyClicks(self.focused(window), text)
        self.typed += len(text)


def listed(window: MainWindow) -> list[tuple[str, str]]:
    from lorairo.gui.widgets.tag_list import STATE_ROLE, TAG_ROLE

    tags = window.review_page.tag_editor.list
    return [(tags.item(r).data(TAG_ROLE), tags.item(r).data(STATE_ROLE)) for r in range(tags.count())]


def review_session(window: MainWindow, count: int, wait: Wait, log: KeyLog) -> list[int]:
    """Enter review with F on the grid, then add / reject / reviewed-and-next `count` images;
    returns the ids reviewed, in order."""
    window.view.setFocus()
    review = window.review
    log.press(window, Qt.Key.Key_F, name="F")
    wait(lambda: review.active and review.current_id() is not None and bool(listed(window)))
    reviewed = []
    for index in range(count):
        image_id = review.current_id()
        assert image_id is not None
        wait(lambda shown=image_id: review.shown_id == shown and bool(listed(window)))
        first = listed(window)[0][0]
        new = f"look {index}"
        log.type(window, new)
        log.press(window, Qt.Key.Key_Return, name="Enter")
        wait(lambda added=new: (added, "accepted") in listed(window))
        log.press(window, Qt.Key.Key_Down, name="Down")
        log.press(window, Qt.Key.Key_Delete, name="Delete")
        wait(lambda gone=first: (gone, "rejected") in listed(window))
        log.press(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier, name="Ctrl+Enter")
        reviewed.append(image_id)
    wait(review.edits.idle)
    return reviewed
