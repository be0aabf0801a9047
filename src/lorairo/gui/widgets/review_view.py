"""Review mode: one large image fitted to the window, its tags and caption beside it, a filmstrip of
its neighbours below, and a keyboard loop that never leaves the tag box.

Keys (from anywhere on the page, the tag box included): Alt+Right / PageDown next, Alt+Left /
PageUp previous, Ctrl+Enter marks the image reviewed and goes to the next, Escape back to the grid.
F (outside a text box) also goes back. The wheel zooms around the cursor, dragging pans,
double-click fits.

Painting never decodes or rescales a full image: the controller hands over a preview decoded in a
worker at about screen size (`ThumbnailLoader`, whose decoder reads JPEGs at a reduced scale), and
each frame draws only the visible part of it, bilinear-filtered (about 2 ms for a 1920 px preview in
a 1080p window). Only when the view is much smaller than the preview is an area-averaged copy made,
once per image and size, and blitted.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QResizeEvent,
    QShortcut,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from lorairo.gui.widgets.caption_box import CaptionBox
from lorairo.gui.widgets.filmstrip import Filmstrip
from lorairo.gui.widgets.tag_editor import TagEditor

MIN_ZOOM, MAX_ZOOM = 1.0, 16.0
SMOOTH_BELOW = 0.5  # drawn at less than half the preview's size: area-average once, then blit
BACKGROUND = QColor(30, 30, 30)
NEXT_KEYS = ("Alt+Right", "PgDown")
PREVIOUS_KEYS = ("Alt+Left", "PgUp")
REVIEWED_NEXT_KEYS = ("Ctrl+Return", "Ctrl+Enter")


class ReviewImageView(QWidget):
    """Paints one image fitted (zoom 1) or zoomed around a centre point; `zoom_changed` lets the
    controller remember the zoom per project."""

    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = QImage()
        self.zoom = 1.0
        self.center = QPointF(0.5, 0.5)  # the image point (fractions of its size) in the view centre
        self.message = ""
        self._frame = QPixmap()
        self._frame_key: tuple[int, int, int] = (0, 0, 0)  # image cacheKey, width, height
        self._drag: QPointF | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

    def set_image(self, image: QImage | None, message: str = "") -> None:
        """Show a decoded preview (None: `message` while it loads or when it cannot be read)."""
        self.image = image if image is not None else QImage()
        self.message = message
        self.center = QPointF(0.5, 0.5)
        self.update()

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom (1 = fitted) keeping the image point under `anchor` (view coordinates) in place."""
        zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        if not self.image.isNull() and anchor is not None:
            before = self._to_image(anchor)
            self.zoom = zoom
            after = self._to_image(anchor)
            self.center += before - after
        self.zoom = zoom
        if zoom == MIN_ZOOM:
            self.center = QPointF(0.5, 0.5)
        self.update()
        self.zoom_changed.emit(self.zoom)

    def fit_scale(self) -> float:
        if self.image.isNull():
            return 1.0
        return min(self.width() / self.image.width(), self.height() / self.image.height())

    def image_rect(self) -> QRectF:
        """Where the whole image lies in view coordinates at the current zoom and centre."""
        scale = self.fit_scale() * self.zoom
        width, height = self.image.width() * scale, self.image.height() * scale
        left = self.width() / 2 - self.center.x() * width
        top = self.height() / 2 - self.center.y() * height
        return QRectF(left, top, width, height)

    def _to_image(self, point: QPointF) -> QPointF:
        rect = self.image_rect()
        return QPointF((point.x() - rect.left()) / rect.width(), (point.y() - rect.top()) / rect.height())

    def _fitted(self, size: QSize) -> QPixmap:
        """The image area-averaged down to `size`, made once per image and view size: for views
        much smaller than the preview, where bilinear sampling would alias."""
        key = (self.image.cacheKey(), size.width(), size.height())
        if key != self._frame_key:
            scaled = self.image.scaled(
                size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            self._frame = QPixmap.fromImage(scaled)
            self._frame_key = key
        return self._frame

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(event.rect(), BACKGROUND)
        if self.image.isNull():
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignCenter), self.message)
            return
        rect = self.image_rect()
        scale = rect.width() / self.image.width()
        if scale < SMOOTH_BELOW:
            frame = self._fitted(rect.size().toSize())
            painter.drawPixmap(rect.topLeft().toPoint(), frame)
            return
        visible = rect.intersected(QRectF(self.rect()))
        if visible.isEmpty():
            return
        source = QRectF(
            (visible.left() - rect.left()) / scale,
            (visible.top() - rect.top()) / scale,
            visible.width() / scale,
            visible.height() / scale,
        )
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 2)
        painter.drawImage(visible, self.image, source)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.set_zoom(self.zoom * factor, event.position())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.zoom > MIN_ZOOM:
            self._drag = event.position()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None:
            rect = self.image_rect()
            delta = event.position() - self._drag
            self._drag = event.position()
            self.center -= QPointF(delta.x() / rect.width(), delta.y() / rect.height())
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.set_zoom(MIN_ZOOM if self.zoom > MIN_ZOOM else 2.0, event.position())


class ReviewPage(QWidget):
    next_requested = Signal()
    previous_requested = Signal()
    reviewed_next_requested = Signal()
    leave_requested = Signal()
    only_unreviewed_changed = Signal(bool)

    def __init__(self, filmstrip: Filmstrip, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = ReviewImageView()
        self.filmstrip = filmstrip
        self.title = QLabel("")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.position = QLabel("")
        self.only_unreviewed = QCheckBox("Only unreviewed")
        self.only_unreviewed.setToolTip("Review only the images of this search not marked reviewed")
        self.only_unreviewed.toggled.connect(self.only_unreviewed_changed)
        self.only_unreviewed.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        back = QPushButton("Grid (Esc)")
        back.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        back.clicked.connect(self.leave_requested)
        self.tag_editor = TagEditor()
        self.caption = CaptionBox(ctrl_enter_saves=False)  # Ctrl+Enter: reviewed and next (saves too)
        keys = QLabel(
            "<small>Enter add · ↓ to tags · Del reject · Ctrl+Enter reviewed + next · "
            "Alt+→/← or PgDn/PgUp next/previous · Esc grid</small>"
        )
        keys.setWordWrap(True)

        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.position)
        header.addWidget(self.only_unreviewed)
        header.addWidget(back)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(header)
        left_layout.addWidget(self.view, 1)
        left_layout.addWidget(self.filmstrip)
        side = QWidget()
        side.setMinimumWidth(260)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.tag_editor, 1)
        side_layout.addWidget(QLabel("Caption"))
        side_layout.addWidget(self.caption)
        side_layout.addWidget(keys)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("review_splitter")  # the window keeps its sizes by this name
        self.splitter.addWidget(left)
        self.splitter.addWidget(side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)

        self.shortcuts: list[QShortcut] = []
        for keys_, signal in (
            (NEXT_KEYS, self.next_requested),
            (PREVIOUS_KEYS, self.previous_requested),
            (REVIEWED_NEXT_KEYS, self.reviewed_next_requested),
            (("Escape",), self.leave_requested),
        ):
            for key in keys_:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                shortcut.activated.connect(signal)
                self.shortcuts.append(shortcut)

    def show_title(self, text: str, position: int, total: int, reviewed: bool) -> None:
        self.title.setText(text + ("  <span style='color:#3a3'>✔ reviewed</span>" if reviewed else ""))
        self.position.setText(f"{position + 1} of {total}" if total else "nothing to review")

    def focus_input(self) -> None:
        self.tag_editor.input.setFocus()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """F goes back to the grid unless a text box has the key (it arrives here only then)."""
        focus = self.focusWidget()
        if event.key() == Qt.Key.Key_F and not isinstance(focus, QLineEdit | QPlainTextEdit):
            self.leave_requested.emit()
            return
        super().keyPressEvent(event)
