"""The keyboard help: every shortcut the window binds, built from its actions so it cannot drift."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

NAVIGATION = (
    ("Arrows, PageUp, PageDown, Home, End", "Move through the grid"),
    ("Shift / Ctrl + click or arrows", "Extend or toggle the selection"),
    ("Enter", "Open the current image (preview and editor)"),
    ("Delete (in the tag list)", "Reject the tag; again to restore it"),
    ("Delete (in the grid)", "Remove the selected images from the project (asks first; Ctrl+Z undoes)"),
    ("Click a facet tag / Shift+click", "Filter to the tag / exclude it"),
    ("Mouse wheel on the preview", "Zoom"),
)


class ShortcutsDialog(QDialog):
    def __init__(self, shortcuts: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = [*shortcuts, *NAVIGATION]
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        self.table.verticalHeader().hide()
        for row, (keys, action) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(keys))
            self.table.setItem(row, 1, QTableWidgetItem(action))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 520)
