"""A strip of the review queue's neighbours around the current image, current one framed and
reviewed ones ticked; a click jumps to one. Thumbnails come from a `ThumbnailLoader` (decoded in its
workers), so painting only draws cached images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from lorairo.gui.models.thumbnail_loader import ThumbnailLoader

CELL = 96
GAP = 6


@dataclass(frozen=True)
class StripItem:
    position: int  # in the review queue
    image_id: int
    thumbnail: Path | None
    reviewed: bool


class Filmstrip(QWidget):
    jump_requested = Signal(int)  # queue position

    def __init__(self, loader: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.items: list[StripItem] = []
        self.current = -1
        self.loader.loaded.connect(lambda _ids: self.update())
        self.setFixedHeight(CELL + 2 * GAP)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(7 * (CELL + GAP), CELL + 2 * GAP)

    def capacity(self) -> int:
        """How many cells fit (odd, so the current one sits in the middle)."""
        count = max(1, (self.width() + GAP) // (CELL + GAP))
        return count if count % 2 else max(1, count - 1)

    def set_items(self, items: list[StripItem], current: int) -> None:
        self.items = items
        self.current = current
        self.update()

    def _cells(self) -> list[tuple[QRect, StripItem]]:
        """The items that fit, centred on the current one."""
        by_position = {item.position: item for item in self.items}
        half = self.capacity() // 2
        left = (self.width() - self.capacity() * (CELL + GAP) + GAP) // 2
        cells = []
        for slot, position in enumerate(range(self.current - half, self.current + half + 1)):
            item = by_position.get(position)
            if item is not None:
                cells.append((QRect(left + slot * (CELL + GAP), GAP, CELL, CELL), item))
        return cells

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(40, 40, 40))
        for rect, item in self._cells():
            image = self.loader.get(item.image_id, item.thumbnail)
            if image is not None and not image.isNull():
                size = image.size().scaled(rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
                target = QRect(QPoint(0, 0), size)
                target.moveCenter(rect.center())
                painter.drawImage(target, image)
            else:
                painter.fillRect(rect, QColor(60, 60, 60))
            if item.position == self.current:
                painter.setPen(QPen(QColor(70, 150, 240), 3))
                painter.drawRect(rect.adjusted(-2, -2, 2, 2))
            if item.reviewed:
                badge = QRect(rect.right() - 17, rect.top() + 2, 16, 16)
                painter.fillRect(badge, QColor(40, 150, 60))
                painter.setPen(QColor(255, 255, 255))
                painter.drawText(badge, int(Qt.AlignmentFlag.AlignCenter), "✓")

    def mousePressEvent(self, event: QMouseEvent) -> None:
        for rect, item in self._cells():
            if rect.contains(event.position().toPoint()):
                self.jump_requested.emit(item.position)
                return
