"""The thumbnail grid: selection, the current image, thumbnail size."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QAbstractItemView, QMenu, QSlider

from lorairo.gui.models.thumbnail_loader import ThumbnailLoader
from lorairo.gui.models.thumbnail_model import ITEM_ROLE, GridItem, ThumbnailModel
from lorairo.gui.session import ProjectSession
from lorairo.gui.widgets.thumbnail_delegate import ThumbnailDelegate
from lorairo.gui.widgets.thumbnail_view import ThumbnailGridView

DETAILS_DELAY_MS = 80  # arrow-key runs through the grid load the inspector once, at the end
# A feature adds its entries to the grid's right-click menu: (menu, the item under the cursor).
MenuSection = Callable[[QMenu, GridItem], None]


def file_location(item: GridItem) -> Path:
    """The folder to show for an image: where it was registered from, else the project's copy."""
    return item.source.parent if item.source.is_file() else item.original.parent


class GridController(QObject):
    """What the grid shows is the search controller's; what is selected in it is this one's."""

    current_settled = Signal(int)  # the current image id, once the cursor or selection rested briefly
    opened = Signal(int)  # Enter or double-click on an image

    def __init__(
        self,
        session: ProjectSession,
        view: ThumbnailGridView,
        model: ThumbnailModel,
        loader: ThumbnailLoader,
        delegate: ThumbnailDelegate,
        size_slider: QSlider,
    ) -> None:
        super().__init__(view)
        self.session, self.view, self.model = session, view, model
        self.loader, self.delegate, self.size_slider = loader, delegate, size_slider
        view.setModel(model)
        view.setItemDelegate(delegate)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.activated.connect(self._activated)
        view.selectionModel().currentChanged.connect(self._current_changed)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(DETAILS_DELAY_MS)
        self._settle.timeout.connect(self._settled)
        view.selectionModel().selectionChanged.connect(lambda *_: self._settle.start())
        size_slider.setValue(delegate.edge)
        size_slider.valueChanged.connect(self.set_thumbnail_size)
        self._menu_sections: list[MenuSection] = []
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._show_menu)

    # -- the right-click menu ----------------------------------------------------------------

    def add_menu_section(self, section: MenuSection) -> None:
        """Entries of another feature (Find similar, reject, remove), in the order added."""
        self._menu_sections.append(section)

    def context_menu(self, index: QModelIndex) -> QMenu | None:
        """The menu for the image at `index`; a click outside the selection selects that image."""
        item = index.data(ITEM_ROLE)
        if not isinstance(item, GridItem):
            return None
        selection = self.view.selectionModel()
        if not selection.isSelected(index):
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        menu = QMenu(self.view)
        for section in self._menu_sections:
            section(menu, item)
            menu.addSeparator()
        open_folder = menu.addAction("Open file location")
        open_folder.setToolTip(str(file_location(item)))
        open_folder.triggered.connect(
            lambda _checked=False: QDesktopServices.openUrl(QUrl.fromLocalFile(str(file_location(item))))
        )
        return menu

    def _show_menu(self, point: QPoint) -> None:
        menu = self.context_menu(self.view.indexAt(point))
        if menu is not None:
            menu.exec(self.view.viewport().mapToGlobal(point))
            menu.deleteLater()

    def selection_ranges(self) -> list[tuple[int, int]]:
        selection = self.view.selectionModel().selection()
        return [(selection.at(i).top(), selection.at(i).bottom()) for i in range(selection.count())]

    def selection_count(self) -> int:
        return sum(bottom - top + 1 for top, bottom in self.selection_ranges())

    def current_image_id(self) -> int | None:
        item = self.view.currentIndex().data(ITEM_ROLE)
        return item.id if item is not None else None

    def first_loaded_id(self) -> int | None:
        items = self.model.loaded_items()
        return items[0].id if items else None

    def select_rows(self, rows: list[int]) -> None:
        """Select these rows (tests and scripts drive the window through this)."""
        selection = self.view.selectionModel()
        selection.clearSelection()
        for row in rows:
            selection.select(self.model.index(row), QItemSelectionModel.SelectionFlag.Select)
        if rows:
            selection.setCurrentIndex(self.model.index(rows[0]), QItemSelectionModel.SelectionFlag.NoUpdate)

    def step(self, delta: int) -> None:
        """The next or previous image becomes the only selected one (Alt+Right / Alt+Left from
        the inspector, the tag box included)."""
        row = self.view.currentIndex().row()
        target = max(0, min(self.model.rowCount() - 1, row + delta))
        if row >= 0 and target != row:
            self.select_rows([target])
            self.view.scrollTo(self.model.index(target))

    def select_all(self) -> None:
        self.view.selectAll()

    def step_size(self, step: int) -> None:
        self.size_slider.setValue(self.size_slider.value() + step)

    def set_thumbnail_size(self, edge: int) -> None:
        self.delegate.edge = edge
        self.loader.set_edge(edge)
        current = self.view.currentIndex()
        self.view.doItemsLayout()
        self.view.keep_in_view(current)
        self.view.viewport().update()
        self.session.save_setting("gui", "thumbnail_size", edge)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self._settle.start()

    def _settled(self) -> None:
        image_id = self.current_image_id()
        if image_id is not None:
            self.current_settled.emit(image_id)

    def _activated(self, _index: QModelIndex) -> None:
        image_id = self.current_image_id()
        if image_id is not None:
            self.opened.emit(image_id)
