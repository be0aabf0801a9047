""" "Find similar" (the grid's context menu, the inspector's button, Ctrl+Shift+F): the image
becomes the query `similar:ID`, so the look-alikes show in the grid, most similar first, and
combine with whatever the user types next (`similar:12 -tag:monochrome`)."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMenu

from lorairo.gui.controllers.grid import GridController
from lorairo.gui.models.thumbnail_model import GridItem
from lorairo.gui.session import ProjectSession
from lorairo.gui.widgets.image_inspector import ImageInspector
from lorairo.gui.widgets.search_bar import SearchBar


class SimilarityController(QObject):
    def __init__(
        self, session: ProjectSession, grid: GridController, search_bar: SearchBar, inspector: ImageInspector
    ) -> None:
        super().__init__(session)
        self.session = session
        self.grid = grid
        self.search_bar = search_bar
        grid.add_menu_section(self._menu_section)
        inspector.find_similar_requested.connect(self.similar_to)

    def _menu_section(self, menu: QMenu, item: GridItem) -> None:
        action = menu.addAction("Find similar")
        action.triggered.connect(lambda _checked=False: self.similar_to(item.id))

    def similar_to(self, image_id: int) -> None:
        self.search_bar.set_text(f"similar:{image_id}")

    def find_similar(self) -> None:
        """Search for images like the current one (needs its stored embedding; the search says
        so otherwise)."""
        image_id = self.grid.current_image_id()
        if image_id is None:
            self.session.message.emit("Select an image to find images like it.")
            return
        self.similar_to(image_id)
