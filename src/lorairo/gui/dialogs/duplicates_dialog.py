"""The duplicates view: near-duplicate groups, by embedding (a model and a cosine threshold) or by
the pHash links registration made, each group best first (resolution, then score, then
sharpness), with "Keep best" per group or for all groups.

"Keep best" is one `SimilarityService.keep_best` call made twice: a dry run whose count is shown
first, then, on Apply, the edit itself, one edit-log entry, so Ctrl+Z brings the images back.
Groups are found in a worker whose progress (indexing, comparing, ranking) shows in a bar with a
Cancel button: a cancelled search keeps nothing (finding only reads) and says so. Thumbnails are
decoded by the dialog's own `ThumbnailLoader` threads, never on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from lorairo.database.embedding_repository import EmbeddingModel
from lorairo.gui.models.thumbnail_loader import ThumbnailLoader
from lorairo.gui.workers import Task, TaskRunner
from lorairo.services.edit_service import EditReport
from lorairo.services.progress import CancelToken, ProgressCallback
from lorairo.services.similarity_service import (
    DEFAULT_THRESHOLD,
    DuplicateGroup,
    DuplicateMember,
    DuplicatesReport,
    SimilarityService,
    lesser,
    reason_of,
)

MAX_GROUPS_SHOWN = 200  # beyond this the list says how many more; "Keep best in all" covers all
THUMBNAIL_EDGE = 112
BEST_STYLE = "QToolButton#duplicate_member[best=true] { border: 2px solid #3c9a4c; border-radius: 4px; }"


def images(count: int) -> str:
    """ "1 image", "2 images": the counts the user reads before an edit."""
    return f"{count:,} image{'' if count == 1 else 's'}"


def member_text(member: DuplicateMember, best: bool) -> str:
    """What a tile says under its thumbnail: id and size, score and sharpness, and its fate."""
    score = "no score" if member.score is None else f"score {member.score:.2f}"
    sharpness = "sharpness ?" if member.sharpness is None else f"sharpness {member.sharpness:.0f}"
    fate = "★ keep" if best else ("rejected" if member.export_rejected else "lesser copy")
    return f"#{member.id} · {member.width}x{member.height}\n{score} · {sharpness}\n{fate}"


class MemberTile(QToolButton):
    """One image of a group: its thumbnail and facts; the best is framed."""

    def __init__(self, member: DuplicateMember, best: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("duplicate_member")
        self.member, self.best = member, best
        self.setProperty("best", best)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        self.setIconSize(QSize(THUMBNAIL_EDGE, THUMBNAIL_EDGE))
        self.setAutoRaise(True)
        self.setText(member_text(member, best))
        self.setToolTip(f"{member.name}\nClick to show it in the grid")
        if member.export_rejected and not best:
            self.setStyleSheet("color: gray;")

    def set_thumbnail(self, image: QImage) -> None:
        if not image.isNull():
            self.setIcon(QIcon(QPixmap.fromImage(image)))


class GroupCard(QFrame):
    """A group: a header with its own "Keep best", and its images best first."""

    keep_best_clicked = Signal(object)  # DuplicateGroup
    member_clicked = Signal(object, int)  # DuplicateGroup, the image id

    def __init__(self, number: int, group: DuplicateGroup, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("duplicate_group")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.group = group
        left_out = len(lesser([group]))
        header = QHBoxLayout()
        self.title = QLabel(
            f"<b>Group {number}</b> · {len(group.images)} images · keep #{group.keep}"
            + (f" · {left_out} to reject" if left_out else " · the others are rejected already")
        )
        self.keep_best = QPushButton("Keep best")
        self.keep_best.setToolTip("Reject this group's other images from export (shows the count first)")
        self.keep_best.setEnabled(bool(left_out))
        self.keep_best.clicked.connect(lambda: self.keep_best_clicked.emit(self.group))
        header.addWidget(self.title, 1)
        header.addWidget(self.keep_best)
        row = QHBoxLayout()
        self.tiles: list[MemberTile] = []
        for member in group.images:
            tile = MemberTile(member, member.id == group.keep)
            tile.clicked.connect(lambda _checked=False, i=member.id: self.member_clicked.emit(self.group, i))
            row.addWidget(tile)
            self.tiles.append(tile)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addLayout(row)


class DuplicatesDialog(QDialog):
    applied = Signal(object)  # EditReport: the keep-best edit was written
    show_requested = Signal(list, int)  # a group's image ids and the one clicked

    def __init__(
        self,
        service: SimilarityService,
        runner: TaskRunner,
        file_path: Callable[[str], Path],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Duplicates")
        self.setObjectName("duplicates_dialog")
        self.resize(980, 720)
        self.service, self.runner, self.file_path = service, runner, file_path
        self.report: DuplicatesReport | None = None
        self.cards: list[GroupCard] = []
        self._pending: list[DuplicateGroup] = []
        self._generation = 0
        self._find_task: Task | None = None
        self.loader = ThumbnailLoader(self)
        self.loader.set_edge(THUMBNAIL_EDGE)
        self.loader.loaded.connect(self._thumbnails_loaded)

        self.method = QComboBox()
        self.method.addItem("Semantic (embeddings)", "semantic")
        self.method.addItem("pHash near-duplicates", "phash")
        self.model = QComboBox()
        self.model.setMinimumWidth(220)
        self.model.setPlaceholderText("no embeddings yet")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.5, 1.0)
        self.threshold.setDecimals(3)
        self.threshold.setSingleStep(0.005)
        self.threshold.setValue(DEFAULT_THRESHOLD)
        self.threshold.setToolTip("Cosine similarity at which two images count as duplicates")
        self.find_button = QPushButton("Find groups")
        self.find_button.setDefault(True)
        self.find_button.clicked.connect(self.find_groups)
        self.method.currentIndexChanged.connect(lambda _index: self._method_changed())
        controls = QHBoxLayout()
        for label, widget in (("Method", self.method), ("Model", self.model), ("Threshold", self.threshold)):
            controls.addWidget(QLabel(label))
            controls.addWidget(widget)
        controls.addStretch(1)
        controls.addWidget(self.find_button)

        self.summary = QLabel("Loading embedding models…")
        self.summary.setWordWrap(True)
        self.find_progress = QProgressBar()
        self.find_progress.setObjectName("find_progress")
        self.find_progress.setTextVisible(True)
        self.stop_button = QPushButton("Cancel")
        self.stop_button.setObjectName("cancel_find")
        self.stop_button.setToolTip("Stop finding groups (nothing is changed)")
        self.stop_button.clicked.connect(self.cancel_find)
        working = QHBoxLayout()
        working.addWidget(self.find_progress, 1)
        working.addWidget(self.stop_button)
        self._show_working(False)
        self.groups = QWidget()
        self.groups_layout = QVBoxLayout(self.groups)
        self.groups_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.groups)
        self.groups.setStyleSheet(BEST_STYLE)

        self.keep_all = QPushButton("Keep best in all groups")
        self.keep_all.setEnabled(False)
        self.keep_all.clicked.connect(lambda: self.keep_best(self.report.groups if self.report else []))
        self.pending = QLabel("")
        self.pending.setWordWrap(True)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(lambda: self._clear_pending())
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(self.keep_all)
        bottom.addStretch(1)
        bottom.addWidget(self.apply_button)
        bottom.addWidget(self.cancel_button)
        bottom.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.summary)
        layout.addLayout(working)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.pending)
        layout.addLayout(bottom)
        self.find_button.setEnabled(False)
        self.runner.start(
            "embedding models",
            lambda _p, _c: service.models(),
            self._models_loaded,
            lambda exc: self._failed(self._generation, exc),
        )

    # -- finding groups --------------------------------------------------------------------

    def _models_loaded(self, models: list[EmbeddingModel]) -> None:
        self.model.clear()
        for model in models:
            self.model.addItem(f"{model.name} ({model.images:,} images)", model.name)
        self.model.setCurrentIndex(0 if models else -1)  # a placeholder keeps -1 otherwise
        if not models:  # semantic groups need vectors: offer pHash, say how to get them
            self.method.setCurrentIndex(self.method.findData("phash"))
            self.method.setItemData(0, 0, Qt.ItemDataRole.UserRole - 1)  # disable the item
            self.method.setToolTip(
                "No embeddings yet: run an embedding model (Annotate…) for semantic groups"
            )
        self._method_changed()
        self.find_groups()

    def _method_changed(self) -> None:
        semantic = self.method.currentData() == "semantic"
        self.model.setEnabled(semantic and self.model.count() > 0)
        self.threshold.setEnabled(semantic)

    def find_groups(self) -> None:
        """Find the groups for the chosen method (a worker); a newer search cancels an older."""
        if self._find_task is not None:
            self._find_task.cancel()
        self._generation += 1
        generation = self._generation
        self._clear_pending(keep_message=True)  # an applied edit's message stays while refreshing
        self.find_button.setEnabled(False)
        self.keep_all.setEnabled(False)
        self.summary.setText("Finding groups…")
        service = self.service
        if self.method.currentData() == "semantic":
            model, threshold = self.model.currentData(), self.threshold.value()

            def work(progress: ProgressCallback, cancel: CancelToken) -> DuplicatesReport:
                return service.duplicates(threshold=threshold, model=model, progress=progress, cancel=cancel)
        else:

            def work(progress: ProgressCallback, cancel: CancelToken) -> DuplicatesReport:
                return service.phash_duplicates(progress=progress, cancel=cancel)

        self.find_progress.setRange(0, 0)  # busy until the first report
        self.find_progress.setFormat("Starting…")
        self._show_working(True)
        task = self.runner.start(
            "find duplicates",
            work,
            lambda report: self._found(generation, report),
            lambda exc: self._failed(generation, exc),
        )
        task.progressed.connect(
            lambda done, total, message: self._progressed(generation, done, total, message)
        )
        task.cancelled.connect(lambda: self._cancelled(generation))
        self._find_task = task

    def cancel_find(self) -> None:
        """Ask the running search to stop at its next step; `_cancelled` follows."""
        if self._find_task is not None:
            self._find_task.cancel()
            self.stop_button.setEnabled(False)
            self.find_progress.setFormat("Cancelling…")

    def _show_working(self, working: bool) -> None:
        self.find_progress.setVisible(working)
        self.stop_button.setVisible(working)
        self.stop_button.setEnabled(working)

    def _settled(self, generation: int) -> bool:
        """True (and the bar hidden) if `generation` is the newest search, which just ended."""
        if generation != self._generation:
            return False
        self._find_task = None
        self._show_working(False)
        self.find_button.setEnabled(True)
        return True

    def _progressed(self, generation: int, done: int, total: object, message: str) -> None:
        if generation != self._generation or not self.stop_button.isEnabled():
            return  # an older search, or one being cancelled
        phase = message[:1].upper() + message[1:] if message else "Working"
        if isinstance(total, int) and total > 0:
            self.find_progress.setRange(0, total)
            self.find_progress.setValue(min(done, total))
            self.find_progress.setFormat(f"{phase}: %v of %m")
        else:
            self.find_progress.setRange(0, 0)
            self.find_progress.setFormat(f"{phase}…")

    def _cancelled(self, generation: int) -> None:
        if not self._settled(generation):
            return
        self.report = None
        for card in self.cards:
            card.deleteLater()
        self.cards = []
        self.keep_all.setEnabled(False)
        self.summary.setText(
            "Cancelled: no groups were found and nothing was changed. Find groups to start again."
        )

    def refresh(self) -> None:
        """Find again with the same settings (after an edit or an undo changed what is rejected)."""
        if self.report is not None:
            self.find_groups()

    def _failed(self, generation: int, exc: BaseException) -> None:
        if self._settled(generation):
            self.summary.setText(f"Error: {exc}")

    def _found(self, generation: int, report: DuplicatesReport) -> None:
        task = self._find_task
        if generation == self._generation and task is not None and task.token.cancelled:
            self._cancelled(generation)  # Cancel came as the last step ended: still cancelled
            return
        if not self._settled(generation):
            return
        self.report = report
        for card in self.cards:
            card.deleteLater()
        self.cards = []
        for number, group in enumerate(report.groups[:MAX_GROUPS_SHOWN], start=1):
            card = GroupCard(number, group)
            card.keep_best_clicked.connect(lambda g: self.keep_best([g]))
            card.member_clicked.connect(lambda g, i: self.show_requested.emit([m.id for m in g.images], i))
            self.groups_layout.insertWidget(self.groups_layout.count() - 1, card)
            self.cards.append(card)
        self._request_thumbnails()
        found = (
            f"at cosine ≥ {report.threshold:g} with {report.model} ({report.images_indexed:,} images indexed)"
            if report.method == "semantic"
            else "linked by pHash at registration"
        )
        rejectable = len(lesser(report.groups))
        more = len(report.groups) - len(self.cards)
        self.summary.setText(
            f"<b>{len(report.groups):,} groups</b> {found}. Best by {', then '.join(report.ranked_by)}. "
            f"Keep best would reject {images(rejectable)} from export."
            + (f" Showing the first {len(self.cards)}; {more:,} more." if more > 0 else "")
            if report.groups
            else f"No duplicate groups {found}."
        )
        self.keep_all.setEnabled(rejectable > 0)

    def _thumbnails_loaded(self, _ids: list[int]) -> None:
        self._request_thumbnails()

    def _request_thumbnails(self) -> None:
        """Show every cached thumbnail and ask for the others: a request the loader dropped
        (its queue is capped) is asked again when the next batch arrives."""
        for card in self.cards:
            for tile in card.tiles:
                if tile.icon().isNull():
                    thumbnail = tile.member.thumbnail_path
                    image = self.loader.get(tile.member.id, self.file_path(thumbnail) if thumbnail else None)
                    if image is not None:
                        tile.set_thumbnail(image)

    # -- keep best: dry run, then apply ------------------------------------------------------

    def keep_best(self, groups: list[DuplicateGroup]) -> None:
        """Dry-run "keep best" over `groups`: the count shows, Apply writes it."""
        if self.report is None or not groups:
            return
        service, reason = self.service, reason_of(self.report)
        self._clear_pending()
        self.pending.setText("Counting…")

        def shown(report: EditReport | None) -> None:
            if report is None or report.images_changed == 0:
                self.pending.setText("Nothing to reject: the other images are rejected already.")
                return
            self._pending = groups
            scope = "this group" if len(groups) == 1 else f"all {len(groups):,} groups"
            self.pending.setText(
                f"Keep best in {scope}: <b>{images(report.images_changed)}</b> would be rejected from "
                "export (one edit; Ctrl+Z undoes it)."
            )
            self.apply_button.setEnabled(True)
            self.cancel_button.setEnabled(True)

        self.runner.start(
            "keep best (dry run)",
            lambda _p, _c: service.keep_best(groups, reason, apply=False),
            shown,
            self._edit_failed,
        )

    def apply(self) -> None:
        if self.report is None or not self._pending:
            return
        service, reason, groups = self.service, reason_of(self.report), self._pending
        self.apply_button.setEnabled(False)
        self.cancel_button.setEnabled(False)
        self.pending.setText("Rejecting…")

        def done(report: EditReport | None) -> None:
            self._pending = []
            if report is None:
                return
            self.pending.setText(
                f"Rejected {images(report.images_changed)} from export (edit #{report.edit_id}). "
                "Ctrl+Z undoes it."
            )
            self.applied.emit(report)

        self.runner.start(
            "keep best",
            lambda p, c: service.keep_best(groups, reason, apply=True, progress=p, cancel=c),
            done,
            self._edit_failed,
        )

    def _edit_failed(self, exc: BaseException) -> None:
        self._clear_pending()
        self.pending.setText(f"Error: {exc}")

    def _clear_pending(self, *, keep_message: bool = False) -> None:
        self._pending = []
        if not keep_message:
            self.pending.setText("")
        self.apply_button.setEnabled(False)
        self.cancel_button.setEnabled(False)

    def done(self, result: int) -> None:
        if self._find_task is not None:  # closing stops the search; it would find for no one
            self._find_task.cancel()
        self.loader.shutdown()
        super().done(result)
