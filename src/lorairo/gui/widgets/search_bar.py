"""The search bar: the query language with completion of field names and tags, and a live count."""

from __future__ import annotations

import re

from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtWidgets import QCompleter, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from lorairo.search.query_language import FIELDS, FLAGS

COLUMN_PATTERN = re.compile(r"at column (\d+):\s*")
MIN_LINE_WIDTH = 280  # "Search: tag:1girl …" stays readable; the window's minimum width allows it
MIN_ERROR_WIDTH = 260
FRAME_AND_PADDING = 4  # QLineEdit's frame plus its fixed horizontal text margin

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


def error_column(exc: BaseException) -> int | None:
    """The 1-based column a query error points at (`QuerySyntaxError.column`, or the
    "at column N:" its message starts with), or None for errors without one."""
    column = getattr(exc, "column", None)
    if isinstance(column, int):
        return column
    match = COLUMN_PATTERN.match(str(exc))
    return int(match.group(1)) if match else None


def error_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, str) else COLUMN_PATTERN.sub("", str(exc), count=1)


class SearchBar(QWidget):
    """Emits `submitted(query)` on Enter, or shortly after typing stops. A query that does not
    parse is reported under the bar, a caret under the column it names."""

    submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.line = QLineEdit()
        self.line.setPlaceholderText("Search: tag:1girl -tag:monochrome score:>6")
        self.line.setToolTip("The query language: tag:, caption:, score:>6, rating:, -term, OR, ( ) (Ctrl+F)")
        self.line.setClearButtonEnabled(True)
        self.line.setMinimumWidth(MIN_LINE_WIDTH)
        self.completer = QueryCompleter(self.line)
        self.count_label = QLabel("")
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.count_label.setMinimumWidth(
            self.count_label.fontMetrics().horizontalAdvance("00,000,000 images")
        )
        self.error_label = QLabel("")
        self.error_label.setObjectName("query_error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d04040;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self.error_column: int | None = None
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.line, 1)
        row.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.error_label)
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
        self.clear_error()
        self.submitted.emit(self.text)

    def show_count(self, count: int) -> None:
        self.count_label.setText(f"{count:,} image{'s' if count != 1 else ''}")

    def show_error(self, exc: BaseException) -> None:
        """The reason under the bar, with a caret under the column when the error names one."""
        self.error_column = error_column(exc)
        reason = error_reason(exc)
        self.count_label.setText("")
        if self.error_column is None:
            self.error_label.setIndent(0)
            self.error_label.setText(reason)
        else:
            self.error_label.setIndent(self._column_x(self.error_column))
            self.error_label.setText(f"▲ column {self.error_column}: {reason}")
        self.error_label.show()

    def clear_error(self) -> None:
        self.error_column = None
        self.error_label.setText("")
        self.error_label.hide()

    def _column_x(self, column: int) -> int:
        """Where column `column` of the text starts, in the bar's coordinates (the caret's
        centre sits under it); clamped so the message keeps room to be read."""
        text = self.line.text()
        metrics = self.line.fontMetrics()
        caret = metrics.horizontalAdvance("▲") // 2
        margins = self.line.textMargins()
        x = FRAME_AND_PADDING + margins.left() + metrics.horizontalAdvance(text[: max(0, column - 1)])
        return max(0, min(x - caret, self.line.width() - MIN_ERROR_WIDTH))

    def add_term(self, term: str) -> None:
        """Append a term (a facet click) and search."""
        current = self.text
        self.set_text(f"{current} {term}".strip())
