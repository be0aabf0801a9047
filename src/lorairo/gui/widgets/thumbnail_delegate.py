"""The thumbnail grid's delegate: thumbnail, name and badges painted straight onto the view."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from lorairo.gui.models.thumbnail_model import PAINT_ROLE, GridItem

Index = QModelIndex | QPersistentModelIndex

BADGES = (
    ("near_duplicate", "D", QColor(230, 140, 20), "near-duplicate"),
    ("failed", "!", QColor(210, 50, 50), "annotation failed"),
    ("rejected_only", "R", QColor(120, 120, 120), "only rejected tags"),
    ("reviewed", "✓", QColor(40, 160, 70), "reviewed"),
)
# Quality badges sit along the bottom edge, apart from the workflow badges above.
QUALITY_BADGES = (
    ("blurry", "B", QColor(60, 110, 200), "blurry"),
    ("dark", "K", QColor(30, 30, 30), "dark"),
    ("letterbox", "L", QColor(130, 70, 170), "letterboxed"),
    ("small", "S", QColor(190, 150, 20), "too small for the training resolution"),
)


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints thumbnail, name and badges straight onto the view (no per-item widgets)."""

    def __init__(self, parent: QObject | None = None, edge: int = 160) -> None:
        super().__init__(parent)
        self.edge = edge

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(self.edge + 12, self.edge + 30)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        painter.save()
        rect = QRect(option.rect)
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(rect.adjusted(1, 1, -1, -1), palette.color(QPalette.ColorRole.Highlight))
        square = QRect(rect.x() + (rect.width() - self.edge) // 2, rect.y() + 6, self.edge, self.edge)
        item, image = index.data(PAINT_ROLE) or (None, None)
        if isinstance(image, QImage) and not image.isNull():
            x = square.x() + (square.width() - image.width()) // 2
            y = square.y() + (square.height() - image.height()) // 2
            painter.drawImage(x, y, image)
        else:
            painter.fillRect(
                square, QColor(70, 70, 70) if item is None or image is None else QColor(90, 40, 40)
            )
        text_rect = QRect(rect.x() + 4, square.bottom() + 4, rect.width() - 8, 18)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        name = item.name if item is not None else "…"
        painter.drawText(
            text_rect,
            int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter),
            option.fontMetrics.elidedText(name, Qt.TextElideMode.ElideMiddle, text_rect.width()),
        )
        if item is not None:
            self._paint_badges(painter, item, square)
        painter.restore()

    @staticmethod
    def _paint_badges(painter: QPainter, item: GridItem, square: QRect) -> None:
        font = QFont(painter.font())
        font.setBold(True)
        font.setPixelSize(11)
        painter.setFont(font)
        for badges, y in ((BADGES, square.y() + 2), (QUALITY_BADGES, square.bottom() - 16)):
            x = square.right() - 16
            for attribute, letter, colour, _meaning in badges:
                if not getattr(item, attribute):
                    continue
                badge = QRect(x, y, 15, 15)
                painter.setRenderHint(QPainter.RenderHint.Antialiasing)
                painter.setBrush(colour)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.drawEllipse(badge)
                painter.setPen(QColor("white"))
                painter.drawText(badge, int(Qt.AlignmentFlag.AlignCenter), letter)
                x -= 17
