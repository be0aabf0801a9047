"""The manual caption of one image, which a typed caption cannot be lost from: it is saved (an
edit-log entry, so undoable) when the box loses focus, when another image is shown, and on
Ctrl+Enter. Shared by the inspector and review mode."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget


class CaptionBox(QWidget):
    save_requested = Signal(int, object)  # image id; str, or None to clear

    def __init__(self, parent: QWidget | None = None, *, ctrl_enter_saves: bool = True) -> None:
        super().__init__(parent)
        self.image_id: int | None = None
        self._shown = ""  # the manual caption as last shown or saved, to see what changed
        self._ctrl_enter_saves = ctrl_enter_saves
        self.edit = QPlainTextEdit()
        self.edit.setPlaceholderText("Manual caption (wins over model captions at export); saved on leaving")
        self.edit.setMaximumHeight(90)
        self.edit.installEventFilter(self)
        self.save_button = QPushButton("Save caption")
        self.save_button.clicked.connect(self.save)
        self.clear_button = QPushButton("Clear manual caption")
        self.clear_button.clicked.connect(self._clear)
        row = QHBoxLayout()
        row.addWidget(self.save_button)
        row.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        layout.addLayout(row)

    def show_caption(self, image_id: int | None, manual: str | None) -> None:
        """Show another image's manual caption; what was typed for the previous one is saved first.
        The same image shown again (its record re-read after a change, perhaps made elsewhere)
        keeps a caption being typed: the user's text wins, and is saved later as usual."""
        if image_id is not None and image_id == self.image_id:
            stored = manual or ""
            if self.dirty():
                self._shown = stored  # what the typed text is compared with when it is saved
            elif stored != self.edit.toPlainText():
                self._shown = stored
                self.edit.setPlainText(stored)
            return
        self.commit()
        self.image_id = image_id
        self._shown = manual or ""
        self.edit.setPlainText(self._shown)

    def dirty(self) -> bool:
        """Typed and not saved yet."""
        return self.edit.toPlainText().strip() != self._shown.strip()

    def save(self) -> None:
        if self.image_id is not None:
            text = self.edit.toPlainText().strip()
            self._shown = text
            self.save_requested.emit(self.image_id, text or None)

    def _clear(self) -> None:
        self.edit.clear()
        self.save()

    def commit(self) -> None:
        """Save the typed caption if it differs from the stored one (an emptied box clears it)."""
        if self.image_id is not None and self.dirty():
            self.save()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.edit:
            if event.type() == QEvent.Type.FocusOut:
                self.commit()
            elif (
                self._ctrl_enter_saves
                and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent)
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier
            ):
                self.commit()
                return True
        return super().eventFilter(watched, event)
