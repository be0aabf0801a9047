"""The tag list of one image or of a multi-selection, and the keys and menu that edit it.

One image: the tags that count in their display order, rejected ones struck through, then the
model's below-threshold tags greyed (a click, Enter or Space accepts one). A multi-selection: the
union of the selected images' tags, each with "n of N" (as BooruDatasetTagManager shows it), most
shared first.

Keys: Delete rejects (or restores) the current tag and moves on; F2 renames it in place for the
shown image(s), Shift+F2 everywhere (the window runs the bulk replace as a dry run first);
Alt+Up / Alt+Down move it (a hand-made order, one image only). The right-click menu offers the
same, plus "Search for this tag" (narrows the current search to it) and "Find
images with this tag" (a new search for it alone). Edits are only requested by signal: the window runs them through `EditService`,
so each is one undoable edit-log entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QFont, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QStyledItemDelegate,
    QWidget,
)

TAG_ROLE = Qt.ItemDataRole.UserRole + 1
REJECTED_ROLE = Qt.ItemDataRole.UserRole + 2
STATE_ROLE = Qt.ItemDataRole.UserRole + 3
COUNT_ROLE = Qt.ItemDataRole.UserRole + 4  # on how many of the shown images the tag counts

State = Literal["accepted", "rejected", "candidate"]
Index = QModelIndex | QPersistentModelIndex
GREY = QColor(140, 140, 140)


@dataclass(frozen=True)
class TagEntry:
    """One line of the list: a tag, what it is on the shown image(s), and on how many of them."""

    tag: str
    state: State = "accepted"
    count: int = 1
    total: int = 1
    confidence: float | None = None

    @property
    def label(self) -> str:
        if self.total > 1:
            return f"{self.tag}    {self.count} of {self.total}"
        if self.state == "candidate" and self.confidence is not None:
            return f"{self.tag}    ({self.confidence:.2f})"
        return self.tag


def tag_entries(rows: Iterable[dict[str, Any]]) -> list[TagEntry]:
    """One image's tag rows (`SearchService.details`, in display order) as list entries: a name
    counts when one of its rows counts; it is rejected when none counts and it was rejected; it is
    a candidate when a model gave it below threshold and the person neither rejected nor removed
    it. Candidates follow the rest, most confident first."""
    order: list[str] = []
    counts: dict[str, bool] = {}
    rejected: set[str] = set()
    removed: set[str] = set()
    confidence: dict[str, float] = {}
    for row in rows:
        name = row["tag"]
        if name not in counts:
            order.append(name)
            counts[name] = False
        if row.get("rejected_at"):
            rejected.add(name)
        elif row.get("removed_at"):
            removed.add(name)
        elif row.get("is_accepted"):
            counts[name] = True
        elif isinstance(row.get("confidence"), float):
            confidence[name] = max(confidence.get(name, 0.0), row["confidence"])
    entries = [
        TagEntry(name, "accepted" if counts[name] else "rejected")
        for name in order
        if counts[name] or name in rejected
    ]
    candidates = [name for name in order if not counts[name] and name not in rejected and name not in removed]
    candidates = [name for name in candidates if name in confidence]
    candidates.sort(key=lambda name: -confidence[name])
    return entries + [TagEntry(name, "candidate", confidence=confidence[name]) for name in candidates]


def shared_entries(counts: Iterable[tuple[str, int]], total: int) -> list[TagEntry]:
    """A multi-selection's union of tags, each with how many of the `total` images carry it."""
    ranked = sorted(counts, key=lambda pair: (-pair[1], pair[0].casefold()))
    return [TagEntry(tag, "accepted", count, total) for tag, count in ranked]


class _RenameDelegate(QStyledItemDelegate):
    """Edits the bare tag name in place; a commit asks for a rename instead of writing the model
    (the list is redrawn from the store once the edit is applied)."""

    def __init__(self, tag_list: TagList) -> None:
        super().__init__(tag_list)
        self.tag_list = tag_list

    def setEditorData(self, editor: QWidget, index: Index) -> None:
        if isinstance(editor, QLineEdit):
            editor.setText(str(index.data(TAG_ROLE)))
            editor.selectAll()

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: Index) -> None:
        if isinstance(editor, QLineEdit):
            old, new = str(index.data(TAG_ROLE)), editor.text().strip()
            if new and new != old:
                self.tag_list.rename_requested.emit(old, new, self.tag_list.rename_everywhere)


class TagList(QListWidget):
    reject_requested = Signal(str, bool)  # tag, restore
    accept_requested = Signal(str)  # a below-threshold model tag the person accepts
    rename_requested = Signal(str, str, bool)  # old, new, everywhere
    reorder_requested = Signal(list)  # every tag name, in the new order
    search_requested = Signal(str, bool)  # tag, replace the query (else narrow it)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.total = 1
        self.rename_everywhere = False
        self._next_row: int | None = None  # where the selection goes once the list is redrawn
        self.setItemDelegate(_RenameDelegate(self))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.model().rowsMoved.connect(self._moved)
        self.itemClicked.connect(self._clicked)
        self.setToolTip(
            "Delete: reject / restore · F2: rename here, Shift+F2: everywhere · "
            "Alt+Up/Down: move · click a grey tag to accept it · right-click for more"
        )

    # -- contents --------------------------------------------------------------------------

    def set_entries(self, entries: list[TagEntry], total: int = 1) -> None:
        """Redraw, keeping the current tag current; after a Delete the selection lands on the row
        after the one acted on."""
        current = self.current_tag()
        self.total = total
        self.setDragDropMode(
            QAbstractItemView.DragDropMode.InternalMove
            if total == 1
            else QAbstractItemView.DragDropMode.NoDragDrop
        )
        self.clear()
        for entry in entries:
            item = QListWidgetItem(entry.label)
            item.setData(TAG_ROLE, entry.tag)
            item.setData(REJECTED_ROLE, entry.state == "rejected")
            item.setData(STATE_ROLE, entry.state)
            item.setData(COUNT_ROLE, entry.count if entry.state == "accepted" else 0)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            if entry.state == "rejected":
                font = QFont(item.font())
                font.setStrikeOut(True)
                item.setFont(font)
                item.setForeground(GREY)
                item.setToolTip("rejected: kept, but left out of search and export (Delete restores)")
            elif entry.state == "candidate":
                font = QFont(item.font())
                font.setItalic(True)
                item.setFont(font)
                item.setForeground(GREY)
                item.setToolTip("below the model's threshold: click (or Enter) to accept it")
            elif total > 1:
                item.setToolTip(f"on {entry.count} of the {total} selected images")
            self.addItem(item)
        if self._next_row is not None and self.count():
            self.setCurrentRow(min(self._next_row, self.count() - 1))
        elif current is not None and current[0] in (tags := self.entry_tags()):
            self.setCurrentRow(tags.index(current[0]))

    def forget_selection(self) -> None:
        """Another image: its list starts without a carried-over selection."""
        self._next_row = None

    def entry_tags(self, *states: State) -> list[str]:
        return [
            self.item(row).data(TAG_ROLE)
            for row in range(self.count())
            if not states or self.item(row).data(STATE_ROLE) in states
        ]

    def counts(self) -> dict[str, int]:
        """Each listed tag (case-folded) with on how many of the shown images it counts."""
        return {
            str(self.item(row).data(TAG_ROLE)).casefold(): int(self.item(row).data(COUNT_ROLE))
            for row in range(self.count())
        }

    def current_tag(self) -> tuple[str, State] | None:
        item = self.currentItem()
        return (item.data(TAG_ROLE), item.data(STATE_ROLE)) if item is not None else None

    # -- actions ---------------------------------------------------------------------------

    def toggle_current(self) -> None:
        """Reject the current tag, restore it if rejected; a candidate is not on the image yet,
        so there is nothing to reject."""
        current = self.current_tag()
        if current is not None and current[1] != "candidate":
            self.reject_requested.emit(current[0], current[1] == "rejected")

    def accept(self, tag: str, state: State) -> None:
        if state == "candidate":
            self.accept_requested.emit(tag)
        elif state == "rejected":
            self.reject_requested.emit(tag, True)

    def rename_current(self, *, everywhere: bool) -> None:
        item = self.currentItem()
        if item is not None and item.data(STATE_ROLE) != "candidate":
            self.rename_everywhere = everywhere
            self.editItem(item)

    def move_current(self, step: int) -> None:
        """Alt+Up / Alt+Down: one row up or down among the tags on the image."""
        row = self.currentRow()
        movable = len(self.entry_tags("accepted", "rejected"))
        target = row + step
        if self.total != 1 or row < 0 or row >= movable or not 0 <= target < movable:
            return
        order = self.entry_tags("accepted", "rejected")
        order.insert(target, order.pop(row))
        self._next_row = target
        self.reorder_requested.emit(order)

    def _moved(self) -> None:
        """A drop moved a row: ask for the list's order to be stored (the refresh then redraws it)."""
        self.reorder_requested.emit(self.entry_tags("accepted", "rejected"))

    def _clicked(self, item: QListWidgetItem) -> None:
        if item.data(STATE_ROLE) == "candidate":
            self.accept_requested.emit(item.data(TAG_ROLE))

    def _delete_current(self) -> None:
        row = self.currentRow()
        self.toggle_current()
        if row >= 0:
            self._next_row = min(row + 1, self.count() - 1)
            self.setCurrentRow(self._next_row)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, modifiers = event.key(), event.modifiers()
        alt = Qt.KeyboardModifier.AltModifier
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.state() != self.State.EditingState:
            self._delete_current()
        elif key == Qt.Key.Key_F2:
            self.rename_current(everywhere=bool(modifiers & Qt.KeyboardModifier.ShiftModifier))
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and modifiers == alt:
            self.move_current(-1 if key == Qt.Key.Key_Up else 1)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space) and not modifiers:
            current = self.current_tag()
            if current is not None:
                self.accept(*current)
        else:
            super().keyPressEvent(event)

    def event(self, event: QEvent) -> bool:
        """Alt+Up/Down belong to the list while it has focus, whatever the window binds them to."""
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down)
            and event.modifiers() == Qt.KeyboardModifier.AltModifier
        ):
            event.accept()
            return True
        return super().event(event)

    def _menu(self, point: QPoint) -> None:
        menu = self.context_menu(self.itemAt(point))
        if menu is not None:
            menu.popup(self.viewport().mapToGlobal(point))

    def context_menu(self, item: QListWidgetItem | None) -> QMenu | None:
        """Accept, Reject, Rename, Search for this tag, Find images with this tag."""
        if item is None:
            return None
        self.setCurrentItem(item)
        tag, state = item.data(TAG_ROLE), item.data(STATE_ROLE)
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def add(text: str, slot: Any, enabled: bool = True, shortcut: str = "") -> QAction:
            action = menu.addAction(text)
            action.setEnabled(enabled)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(lambda _checked=False: slot())
            return action

        add("Accept", lambda: self.accept(tag, state), state != "accepted", "Return")
        add("Reject", lambda: self.reject_requested.emit(tag, False), state == "accepted", "Delete")
        menu.addSeparator()
        add("Rename…", lambda: self.rename_current(everywhere=False), state != "candidate", "F2")
        add(
            "Rename everywhere…",
            lambda: self.rename_current(everywhere=True),
            state != "candidate",
            "Shift+F2",
        )
        menu.addSeparator()
        add("Search for this tag", lambda: self.search_requested.emit(tag, False))
        add("Find images with this tag", lambda: self.search_requested.emit(tag, True))
        return menu
