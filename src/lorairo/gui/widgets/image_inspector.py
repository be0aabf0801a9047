"""Inspect and edit the current image: zoomable preview, metadata, every model's tags (with
confidence bars and accepted/rejected state), captions, scores and ratings side by side, and
editors for tags, caption, score, rating and the reviewed mark.

A typed caption cannot be lost (`caption_box.CaptionBox`). With several images selected it says so
in large type, and the tag editor shows their shared tags ("n of N"); an edit then applies to all of
them, while the one-image editors (caption, score, rating) are disabled."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lorairo.database.effective import DEFAULT_SCORE_KIND
from lorairo.gui.widgets.caption_box import CaptionBox
from lorairo.gui.widgets.tag_editor import TagEditor
from lorairo.gui.widgets.tag_list import shared_entries, tag_entries
from lorairo.search.query_language import RATINGS

CONFIDENCE_COLUMN = 2
CONFIDENCE_ROLE = Qt.ItemDataRole.UserRole + 1


class ZoomView(QGraphicsView):
    """Wheel zooms around the cursor; `fit` shows the whole image, and keeps showing it whole as
    the panel grows or shrinks until the wheel zooms."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setMinimumHeight(120)
        self.zoom = 1.0
        self.fitted = True

    def set_image(self, image: QImage) -> None:
        self.item.setPixmap(QPixmap.fromImage(image))
        self.scene().setSceneRect(self.item.boundingRect())
        self.fit()

    def clear(self) -> None:
        self.item.setPixmap(QPixmap())

    def fit(self) -> None:
        self.fitted = True
        if not self.item.pixmap().isNull():
            self.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)
            self.zoom = self.transform().m11()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.fitted:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        self.fitted = False
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.zoom *= factor
        self.scale(factor, factor)


class ConfidenceDelegate(QStyledItemDelegate):
    """A bar as long as the confidence, with the number on it."""

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        value = index.data(CONFIDENCE_ROLE)
        if not isinstance(value, float):
            super().paint(painter, option, index)
            return
        rect = QRect(option.rect).adjusted(2, 3, -2, -3)
        painter.save()
        painter.fillRect(rect, QColor(60, 60, 60, 60))
        bar = QRect(rect)
        bar.setWidth(int(rect.width() * max(0.0, min(1.0, value))))
        painter.fillRect(bar, QColor(70, 130, 200))
        painter.setPen(option.palette.text().color())
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), f"{value:.2f}")
        painter.restore()


def tag_state(row: dict[str, Any]) -> str:
    if row.get("rejected_at"):
        return "rejected"
    if row.get("removed_at"):
        return "removed"
    return "accepted" if row.get("is_accepted") else "below threshold"


def editor_tags(tags: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """The tags on the image as (tag, rejected): rejected only when no row of it still counts."""
    return [
        (entry.tag, entry.state == "rejected") for entry in tag_entries(tags) if entry.state != "candidate"
    ]


class ImageInspector(QWidget):
    score_set_requested = Signal(object)  # float or None
    rating_set_requested = Signal(object)  # str or None
    reviewed_requested = Signal(bool)
    open_requested = Signal()
    find_similar_requested = Signal(int)  # the image shown; only offered when it has an embedding

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image_id: int | None = None  # the one image shown; None with a multi-selection
        self.selected_ids: tuple[int, ...] = ()  # what a tag edit applies to
        self.record: dict[str, Any] | None = None
        self.score_kind = DEFAULT_SCORE_KIND  # the project's default kind: the one the grid shows
        self.preview = ZoomView()
        fit = QPushButton("Fit")
        fit.clicked.connect(self.preview.fit)
        self.find_similar = QPushButton("Find similar")
        self.find_similar.setObjectName("inspector_find_similar")
        self.find_similar.clicked.connect(self._find_similar_clicked)
        self.find_similar.setEnabled(False)
        self.meta = QLabel("No image selected.")
        self.meta.setWordWrap(True)
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.tags_tree = QTreeWidget()
        self.tags_tree.setHeaderLabels(["Tag", "Category", "Confidence", "State"])
        self.tags_tree.setItemDelegateForColumn(CONFIDENCE_COLUMN, ConfidenceDelegate(self.tags_tree))
        self.tags_tree.setColumnWidth(0, 170)
        self.captions_tree = QTreeWidget()
        self.captions_tree.setHeaderLabels(["Source", "Caption"])
        self.captions_tree.setWordWrap(True)
        self.scores_tree = QTreeWidget()
        self.scores_tree.setHeaderLabels(["Source", "What", "Value"])

        self.tag_editor = TagEditor()
        self.caption = CaptionBox()
        self.caption_edit = self.caption.edit
        self.save_caption_button = self.caption.save_button
        self.caption_save_requested = self.caption.save_requested
        self.score_spin = QDoubleSpinBox()
        self.score_spin.setRange(0, 10)
        self.score_spin.setSingleStep(0.5)
        set_score = QPushButton("Set score")
        set_score.clicked.connect(lambda: self.score_set_requested.emit(self.score_spin.value()))
        self.rating_combo = QComboBox()
        self.rating_combo.addItems(["(model)", *RATINGS])
        self.rating_combo.activated.connect(self._rating_chosen)
        self.reviewed = QCheckBox("Reviewed")
        self.reviewed.clicked.connect(lambda checked: self.reviewed_requested.emit(checked))

        edit = QWidget()
        edit_layout = QVBoxLayout(edit)
        edit_layout.addWidget(QLabel("Tags"))
        edit_layout.addWidget(self.tag_editor, 2)
        edit_layout.addWidget(QLabel("Caption"))
        edit_layout.addWidget(self.caption)
        self.one_image_editors = QWidget()
        form = QFormLayout(self.one_image_editors)
        form.setContentsMargins(0, 0, 0, 0)
        score_row = QHBoxLayout()
        score_row.addWidget(self.score_spin)
        score_row.addWidget(set_score)
        form.addRow("Manual score", score_row)
        form.addRow("Rating", self.rating_combo)
        form.addRow("", self.reviewed)
        edit_layout.addWidget(self.one_image_editors)

        self.tabs = QTabWidget()
        self.tabs.tabBar().setElideMode(Qt.TextElideMode.ElideNone)  # no "Scores & ra…": the
        self.tabs.tabBar().setUsesScrollButtons(False)  # inspector is at least as wide as its tabs
        self.tabs.addTab(edit, "Edit")
        self.tabs.addTab(self.tags_tree, "Tags by model")
        self.tabs.addTab(self.captions_tree, "Captions")
        self.tabs.addTab(self.scores_tree, "Scores && ratings")

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        preview_row = QHBoxLayout()
        preview_row.addWidget(self.meta, 1)
        buttons = QVBoxLayout()  # stacked: the meta text keeps the row's width in a narrow dock
        buttons.addWidget(self.find_similar)
        buttons.addWidget(fit)
        preview_row.addLayout(buttons)
        top_layout.addWidget(self.preview, 1)
        top_layout.addLayout(preview_row)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("inspector_splitter")  # the window saves its sizes by this name
        splitter.addWidget(top)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(splitter)
        self.setEnabled(False)

    def clear(self) -> None:
        self.caption.show_caption(None, None)
        self.image_id = None
        self.selected_ids = ()
        self.record = None
        self.preview.clear()
        self.meta.setText("No image selected.")
        for tree in (self.tags_tree, self.captions_tree, self.scores_tree):
            tree.clear()
        self.tag_editor.set_entries([])
        self._offer_similar([])
        self.setEnabled(False)

    def show_record(self, record: dict[str, Any]) -> None:
        """Show `SearchService.details` of one image (a caption typed for the one shown before is
        saved first)."""
        if int(record["id"]) != self.image_id:
            self.tag_editor.forget_selection()
        self.caption.show_caption(int(record["id"]), self.manual_caption(record))
        self.image_id = int(record["id"])
        self.selected_ids = (self.image_id,)
        self.record = record
        self.setEnabled(True)
        self._one_image(True)
        reviewed = record.get("reviewed_at")
        self.meta.setText(
            f"<b>#{record['id']} {record['name']}</b><br>{record['width']}x{record['height']} "
            f"{record['format']} · added {str(record['created_at'])[:19]}"
            f"{' · reviewed' if reviewed else ''}<br><small>{record['file_path']}</small>"
        )
        self.reviewed.setChecked(bool(reviewed))
        self._offer_similar(record.get("embeddings", []))
        self._fill_tags(record["tags"])
        self._fill_captions(record["captions"])
        self._fill_scores(record["scores"], record["ratings"], record.get("failures", []))
        self.tag_editor.set_entries(tag_entries(record["tags"]))
        manual_score = [
            s["score"] for s in record["scores"] if s["source"] == "manual" and s["kind"] == self.score_kind
        ]
        if manual_score:
            self.score_spin.setValue(float(manual_score[0]))
        manual_rating = [r["rating"] for r in record["ratings"] if r["source"] == "manual"]
        self.rating_combo.setCurrentText(manual_rating[0] if manual_rating else "(model)")

    def show_selection(self, ids: list[int], counts: list[tuple[str, int]]) -> None:
        """Several images: say how many, show their shared tags with "n of N"."""
        if tuple(ids) != self.selected_ids:
            self.tag_editor.forget_selection()
        self.caption.show_caption(None, None)
        self.image_id = None
        self.selected_ids = tuple(ids)
        self.record = None
        self.setEnabled(True)
        self._one_image(False)
        self._offer_similar([])
        self.preview.clear()
        self.meta.setText(
            f"<span style='font-size:x-large'><b>{len(ids)} images selected</b></span><br>"
            "Tags added or rejected here apply to all of them (one undoable edit)."
        )
        for tree in (self.tags_tree, self.captions_tree, self.scores_tree):
            tree.clear()
        self.tag_editor.set_entries(shared_entries(counts, len(ids)), len(ids))

    def _offer_similar(self, models: list[str]) -> None:
        """ "Find similar" needs a stored embedding of the image shown; the tooltip says which
        models have one, or how to get one."""
        self.find_similar.setEnabled(bool(models))
        self.find_similar.setToolTip(
            f"Images like this one by embedding ({', '.join(models)}), most similar first (Ctrl+Shift+F)"
            if models
            else "No embedding of this image yet: run an embedding model on it (Annotate…) first"
        )

    def _find_similar_clicked(self) -> None:
        if self.image_id is not None:
            self.find_similar_requested.emit(self.image_id)

    def _one_image(self, single: bool) -> None:
        self.caption.setEnabled(single)
        self.one_image_editors.setEnabled(single)

    @staticmethod
    def manual_caption(record: dict[str, Any]) -> str | None:
        manual = [c["caption"] for c in record["captions"] if c["source"] == "manual"]
        return manual[0] if manual else None

    @staticmethod
    def _source(row: dict[str, Any]) -> str:
        return str(row.get("model") or row.get("source") or "?")

    def _fill_tags(self, tags: list[dict[str, Any]]) -> None:
        self.tags_tree.clear()
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in tags:
            groups[self._source(row)].append(row)
        for source, rows in groups.items():
            parent = QTreeWidgetItem([f"{source} ({len(rows)})"])
            self.tags_tree.addTopLevelItem(parent)
            for row in rows:
                confidence = row.get("confidence")
                child = QTreeWidgetItem([row["tag"], row.get("category") or "", "", tag_state(row)])
                if isinstance(confidence, float):
                    child.setData(CONFIDENCE_COLUMN, CONFIDENCE_ROLE, confidence)
                else:
                    child.setText(CONFIDENCE_COLUMN, "-")
                if tag_state(row) != "accepted":
                    for column in range(4):
                        child.setForeground(column, QColor(140, 140, 140))
                parent.addChild(child)
            parent.setExpanded(True)

    def _fill_captions(self, captions: list[dict[str, Any]]) -> None:
        self.captions_tree.clear()
        for row in captions:
            item = QTreeWidgetItem([self._source(row), row["caption"]])
            item.setToolTip(1, row["caption"])
            self.captions_tree.addTopLevelItem(item)

    def _fill_scores(
        self, scores: list[dict[str, Any]], ratings: list[dict[str, Any]], failures: list[dict[str, Any]]
    ) -> None:
        self.scores_tree.clear()
        for row in scores:
            value = f"{row['score']:.2f} / {row['scale_max']:g}"
            self.scores_tree.addTopLevelItem(QTreeWidgetItem([self._source(row), row["kind"], value]))
        for row in ratings:
            confidence = row.get("confidence")
            value = row["rating"] + (f" ({confidence:.2f})" if isinstance(confidence, float) else "")
            self.scores_tree.addTopLevelItem(QTreeWidgetItem([self._source(row), "rating", value]))
        for row in failures:
            item = QTreeWidgetItem(
                [row["model_name"], f"failed: {row['failure_reason']}", row.get("error_message") or ""]
            )
            item.setForeground(1, QColor(210, 50, 50))
            self.scores_tree.addTopLevelItem(item)

    def set_preview(self, image_id: int, image: QImage) -> None:
        if image_id == self.image_id:
            self.preview.set_image(image)

    def commit_caption(self) -> None:
        self.caption.commit()

    def _rating_chosen(self, index: int) -> None:
        self.rating_set_requested.emit(None if index == 0 else self.rating_combo.itemText(index))
