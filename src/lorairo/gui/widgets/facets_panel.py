"""Facets of the current result: tags with counts (click to filter, Shift+click to exclude), score
and resolution sliders, rating checkboxes. The panel only builds query terms; searching is the
window's job."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from lorairo.search.query_language import RATINGS
from lorairo.services.search_service import Facets

TAG_DATA = Qt.ItemDataRole.UserRole + 1


class FacetsPanel(QWidget):
    tag_clicked = Signal(str, bool)  # tag, exclude
    filters_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tags = QListWidget()
        self.tags.setToolTip("Click: only images with the tag. Shift+click: images without it.")
        self.tags.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long tag keeps its count visible
        self.tags.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tags.itemClicked.connect(self._clicked)
        self.score = QSlider(Qt.Orientation.Horizontal)
        self.score.setRange(0, 100)
        self.score_label = QLabel("any")
        self.resolution = QSlider(Qt.Orientation.Horizontal)
        self.resolution.setRange(0, 32)  # x 64 px
        self.resolution_label = QLabel("any")
        self.ratings: dict[str, QCheckBox] = {name: QCheckBox(name) for name in RATINGS}
        self.rating_counts: dict[str, int] = {}
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.filters_changed)
        self.score.valueChanged.connect(self._slider_moved)
        self.resolution.valueChanged.connect(self._slider_moved)
        for box in self.ratings.values():
            box.toggled.connect(lambda _on: self._debounce.start())

        sliders = QFormLayout()
        score_row = QHBoxLayout()
        score_row.addWidget(self.score, 1)
        score_row.addWidget(self.score_label)
        sliders.addRow("Min score", score_row)
        size_row = QHBoxLayout()
        size_row.addWidget(self.resolution, 1)
        size_row.addWidget(self.resolution_label)
        sliders.addRow("Min side", size_row)
        rating_box = QGroupBox("Rating")
        rating_layout = QVBoxLayout(rating_box)
        for box in self.ratings.values():
            rating_layout.addWidget(box)
        tag_box = QGroupBox("Tags in result")
        tag_layout = QVBoxLayout(tag_box)
        tag_layout.addWidget(self.tags)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(tag_box, 1)
        layout.addLayout(sliders)
        layout.addWidget(rating_box)

    def _slider_moved(self) -> None:
        score = self.score.value() / 10
        self.score_label.setText(f">= {score:.1f}" if score else "any")
        side = self.resolution.value() * 64
        self.resolution_label.setText(f">= {side}px" if side else "any")
        self._debounce.start()

    def _clicked(self, item: QListWidgetItem) -> None:
        exclude = bool(QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier)
        self.tag_clicked.emit(item.data(TAG_DATA), exclude)

    def terms(self) -> str:
        """The sliders and checkboxes as query terms, ANDed onto the search bar's query."""
        terms = []
        if self.score.value():
            terms.append(f"score:>={self.score.value() / 10:g}")
        if self.resolution.value():
            side = self.resolution.value() * 64
            terms.append(f"width:>={side} height:>={side}")
        chosen = [name for name, box in self.ratings.items() if box.isChecked()]
        if chosen and len(chosen) < len(self.ratings):
            terms.append("rating:" + ",".join(chosen))
        return " ".join(terms)

    def show_facets(self, facets: Facets) -> None:
        self.tags.clear()
        counts = sorted(
            (count for per_category in facets.tags.values() for count in per_category),
            key=lambda c: (-c.images, c.tag),
        )
        for count in counts:
            item = QListWidgetItem(f"{count.tag}  ({count.images:,})")
            item.setData(TAG_DATA, count.tag)
            item.setToolTip(f"{count.tag} ({count.category}): {count.images:,} images in the result")
            self.tags.addItem(item)
        self.rating_counts = dict(facets.ratings)
        for name, box in self.ratings.items():
            box.setText(f"{name} ({facets.ratings.get(name, 0):,})")

    def tag_names(self) -> list[str]:
        return [self.tags.item(row).data(TAG_DATA) for row in range(self.tags.count())]
