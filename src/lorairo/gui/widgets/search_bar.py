"""The search bar: the query language with completion of field names and tags, and a live count."""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtWidgets import QCompleter, QHBoxLayout, QLabel, QLineEdit, QWidget

from lorairo.search.query_language import FIELDS, FLAGS

FIELD_WORDS = sorted([f"{name}:" for name in FIELDS] + list(FLAGS) + ["score[aesthetic]:"])


def quote_tag(tag: str) -> str:
    """A tag as an exact query value, quoted so spaces and parentheses stay part of it."""
    escaped = tag.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def last_word_span(text: str, cursor: int) -> tuple[int, str]:
    """Start and text of the word being typed at `cursor` (words split on spaces and parens)."""
    start = cursor
    while start > 0 and text[start - 1] not in " ()":
        start -= 1
    return start, text[start:cursor]


class QueryCompleter(QCompleter):
    """Completes the word under the cursor: field names, then `tag:<tag>` for known tags."""

    def __init__(self, line: QLineEdit) -> None:
        self.words = QStringListModel(FIELD_WORDS)
        super().__init__(self.words, line)
        self.line = line
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setWidget(line)
        self.activated.connect(self.insert)
        line.textEdited.connect(self._update)

    def set_tags(self, tags: list[str]) -> None:
        words = list(FIELD_WORDS)
        for tag in tags:
            if " " in tag or "(" in tag or ")" in tag:
                words.append(f"tag:{quote_tag(tag)}")
            else:
                words.append(f"tag:{tag}")
        self.words.setStringList(words)

    def _update(self, text: str) -> None:
        _start, word = last_word_span(text, self.line.cursorPosition())
        word = word.lstrip("-")
        if len(word) < 1:
            self._hide_popup()
            return
        self.setCompletionPrefix(word)
        if self.completionCount():
            self.complete()
        else:
            self._hide_popup()

    def _hide_popup(self) -> None:
        popup = self.popup()
        if popup is not None:
            popup.hide()

    def insert(self, completion: str) -> None:
        text, cursor = self.line.text(), self.line.cursorPosition()
        start, word = last_word_span(text, cursor)
        if word.startswith("-"):
            start += 1
        suffix = "" if completion.endswith(":") else " "
        self.line.setText(text[:start] + completion + suffix + text[cursor:])
        self.line.setCursorPosition(start + len(completion) + len(suffix))


class SearchBar(QWidget):
    """Emits `submitted(query)` on Enter, or shortly after typing stops."""

    submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.line = QLineEdit()
        self.line.setPlaceholderText(
            'Search: tag:1girl -tag:monochrome score:>6 caption:"red dress"  (Ctrl+F)'
        )
        self.line.setClearButtonEnabled(True)
        self.completer = QueryCompleter(self.line)
        self.count_label = QLabel("")
        self.count_label.setMinimumWidth(120)
        self.error_label = QLabel("")
        self.error_label.setStyleSheet("color: #d04040;")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.count_label)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(400)
        self._debounce.timeout.connect(self.submit)
        self.line.returnPressed.connect(self.submit)
        self.line.textEdited.connect(lambda _text: self._debounce.start())

    @property
    def text(self) -> str:
        return self.line.text().strip()

    def set_text(self, text: str, *, submit: bool = True) -> None:
        self.line.setText(text)
        if submit:
            self.submit()

    def submit(self) -> None:
        self._debounce.stop()
        self.error_label.setText("")
        self.submitted.emit(self.text)

    def show_count(self, count: int) -> None:
        self.count_label.setText(f"{count:,} image{'s' if count != 1 else ''}")

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.count_label.setText("")

    def add_term(self, term: str) -> None:
        """Append a term (a facet click) and search."""
        current = self.text
        self.set_text(f"{current} {term}".strip())
