"""Tag editor for one image or a multi-selection: the tag list (`tag_list.TagList`: reject,
accept, rename, reorder, menu), an input with autocomplete from the tag database and the project's
own tags (post counts shown), and the caption's token count against CLIP's 75-token window.

Edits are requested by signal; the window runs them through `EditService` in a worker, so every
change is in the edit log and undoable. In the input, Enter adds the typed tags, Down / Up move to
the list (first / last tag) when no completion is open, and Ctrl+Z in the empty input undoes the
last edit, once the input has no text of its own to undo.

The token count is of the tags as export writes them (joined by ", "): exact with the CLIP
tokenizer when `tokenizers` is installed and a `tokenizer.json` is configured (`[tags]
clip_tokenizer`) or in the Hugging Face cache, else the documented estimate of
`lorairo.export.tokens` (the same counter the export lint uses).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from lorairo.export.tokens import CLIP_WINDOW, default_counter
from lorairo.gui.widgets.tag_list import REJECTED_ROLE, STATE_ROLE, TAG_ROLE, TagEntry, TagList

__all__ = ["REJECTED_ROLE", "STATE_ROLE", "TAG_ROLE", "TagEditor", "token_text"]


def token_text(tags: list[str], tokenizer_file: str = "") -> tuple[str, bool]:
    """The "n / 75 tokens" line for the tags as export joins them, and whether they overflow."""
    counter, kind = default_counter(tokenizer_file)
    count = counter(", ".join(tags)) if tags else 0
    suffix = "" if kind == "clip" else " (estimate)"
    return f"{count} / {CLIP_WINDOW} tokens{suffix}", count > CLIP_WINDOW


class TagEditor(QWidget):
    add_requested = Signal(list)
    reject_requested = Signal(str, bool)  # tag, restore
    accept_requested = Signal(str)
    rename_requested = Signal(str, str, bool)  # old, new, everywhere
    reorder_requested = Signal(list)  # every tag name, in the new order
    search_requested = Signal(str, bool)  # tag, replace the query
    prefix_typed = Signal(str)
    undo_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = TagList()
        self.list.reject_requested.connect(self.reject_requested)
        self.list.accept_requested.connect(self.accept_requested)
        self.list.rename_requested.connect(self.rename_requested)
        self.list.reorder_requested.connect(self.reorder_requested)
        self.list.search_requested.connect(self.search_requested)
        self.selection_label = QLabel("")
        self.selection_label.setVisible(False)
        self.tokens = QLabel("")
        self.tokens.setToolTip(
            "CLIP reads 75 tokens; tags past that are cut off in training. Exact with the CLIP "
            "tokenizer installed, else an estimate that errs high."
        )
        self.input = QLineEdit()
        self.input.setPlaceholderText("Add tags…")
        self.input.setToolTip("Comma-separated; Enter adds · Down/Up: to the list")
        self.input.installEventFilter(self)
        self.add_button = QPushButton("Add")
        self.reject_button = QPushButton("Reject")
        self.reject_button.setToolTip("Reject or restore the selected tag (Delete)")
        self.suggestions = QStandardItemModel(self)
        self.completer = QCompleter(self.suggestions, self)
        self.completer.setCompletionRole(TAG_ROLE)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.input.setCompleter(self.completer)
        self.project_tags: dict[str, int] = {}
        self.tokenizer_file = ""  # `[tags] clip_tokenizer`
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(lambda: self.prefix_typed.emit(self.input.text().strip()))
        self.input.textEdited.connect(lambda _t: self._debounce.start())
        self.input.returnPressed.connect(self._add)
        self.add_button.clicked.connect(self._add)
        self.reject_button.clicked.connect(self.list.toggle_current)
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.reject_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.selection_label)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.tokens)
        layout.addLayout(row)

    def set_entries(self, entries: list[TagEntry], total: int = 1) -> None:
        """Show one image's entries (`total` 1) or a selection's union ("n of N" each)."""
        self.list.set_entries(entries, total)
        self.selection_label.setVisible(total > 1)
        self.selection_label.setText(
            f"<b>{total} images selected</b>: adding or rejecting a tag applies to all of them"
        )
        self.add_button.setToolTip(f"Add to all {total} selected images" if total > 1 else "")
        if total > 1:
            self.tokens.setText("")
        else:
            text, over = token_text(self.list.entry_tags("accepted"), self.tokenizer_file)
            self.tokens.setText(text)
            self.tokens.setStyleSheet("color: #d03030;" if over else "")

    def forget_selection(self) -> None:
        self.list.forget_selection()

    def set_project_tags(self, counts: dict[str, int]) -> None:
        self.project_tags = counts
        self.set_suggestions([])

    def set_suggestions(self, from_tag_db: list[tuple[str, int]]) -> None:
        """Tag-database suggestions first (with post counts), then the project's own tags."""
        self.suggestions.clear()
        seen: set[str] = set()
        for tag, posts in from_tag_db:
            if tag not in seen:
                seen.add(tag)
                self.suggestions.appendRow(self._suggestion(tag, f"{posts:,} posts"))
        for tag, images in sorted(self.project_tags.items(), key=lambda kv: -kv[1]):
            if tag not in seen:
                seen.add(tag)
                self.suggestions.appendRow(self._suggestion(tag, f"{images:,} in project"))
        if self.input.hasFocus() and self.input.text():
            self.completer.setCompletionPrefix(self.input.text().strip())
            self.completer.complete()

    @staticmethod
    def _suggestion(tag: str, count: str) -> QStandardItem:
        item = QStandardItem(f"{tag}   ({count})")
        item.setData(tag, TAG_ROLE)
        return item

    def _add(self) -> None:
        tags = [part.strip() for part in self.input.text().split(",") if part.strip()]
        if tags:
            self.add_requested.emit(tags)
            self.input.clear()
            popup = self.completer.popup()
            if popup is not None:
                popup.hide()

    @staticmethod
    def _is_undo(event: QEvent) -> bool:
        return (
            event.type() in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride)
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Z
            and event.modifiers() == Qt.KeyboardModifier.ControlModifier
        )

    def _completing(self) -> bool:
        popup = self.completer.popup()
        return popup is not None and popup.isVisible()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.input and not self.input.text() and self._is_undo(event):
            event.accept()
            if event.type() == QEvent.Type.KeyPress:
                self.undo_requested.emit()
            return True
        if (
            watched is self.input
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up)
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
            and self.list.count()
            and not self._completing()
        ):
            self.list.setFocus()
            self.list.setCurrentRow(0 if event.key() == Qt.Key.Key_Down else self.list.count() - 1)
            return True
        return super().eventFilter(watched, event)
