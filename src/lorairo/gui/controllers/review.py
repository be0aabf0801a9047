"""Review mode: walk the current search image by image, tag each one and mark it reviewed.

The queue is the search as it was when review began (its ids, in the grid's sort), so marking an
image reviewed under "only unreviewed" never shifts the images still to come. Where the person was
(the image and the zoom) is kept per project in `<project>/gui.ini`.

Nothing here waits on the store or on a decoder: the queue, each image's details and the previews
come from workers. Previews are decoded at about screen size into a bounded cache, the next images
ahead of time, so moving on shows the next image from the cache.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QGuiApplication

from lorairo.gui.controllers.tag_edits import EditQueue, Session, TagEditBinding
from lorairo.gui.models.thumbnail_loader import ThumbnailLoader
from lorairo.gui.widgets.filmstrip import Filmstrip, StripItem
from lorairo.gui.widgets.review_view import ReviewPage
from lorairo.gui.widgets.tag_list import tag_entries
from lorairo.gui.workers import Task
from lorairo.services.edit_service import EditTarget
from lorairo.services.progress import CancelToken, ProgressCallback
from lorairo.services.search_service import SearchService

WINDOW = 24  # queue entries described (name, paths, reviewed) on each side of the current one
PREFETCH_AHEAD, PREFETCH_BEHIND = 3, 1
PREVIEW_CACHE_BYTES = 256 * 1024 * 1024  # about 20 previews at 1080p, 6 at 4K
STATE_FILE = "gui.ini"
UNREVIEWED = "-reviewed"


@dataclass(frozen=True)
class QueueItem:
    image_id: int
    name: str
    width: int
    height: int
    original: Path
    thumbnail: Path | None
    reviewed: bool


def describe(search: SearchService, ids: list[int]) -> dict[int, QueueItem]:
    """Name, size, file paths and reviewed mark of a window of the queue (worker thread)."""
    project = search.project
    flags = search.grid_flags(ids)
    items = {}
    for summary in search.summaries(ids):
        flag = flags.get(summary.id)
        thumbnail = project.file_path(flag.thumbnail_path) if flag and flag.thumbnail_path else None
        items[summary.id] = QueueItem(
            summary.id,
            summary.name,
            summary.width,
            summary.height,
            project.file_path(summary.stored_path),
            thumbnail,
            summary.reviewed,
        )
    return items


def preview_edge() -> int:
    """The longest side of the largest screen in device pixels, in steps of 256 (so small window
    changes keep the cache); what a fitted image never exceeds."""
    screens = QGuiApplication.screens()
    longest = max(
        (max(s.size().width(), s.size().height()) * s.devicePixelRatio() for s in screens), default=1920
    )
    return int(-(-longest // 256) * 256)


class ReviewController(QObject):
    entered = Signal()
    left = Signal(object)  # the image id the grid should show, or None
    shown = Signal(int)  # an image's details (tags, caption) are on screen
    queue_ready = Signal(int)  # the queue's length

    def __init__(self, session: Session, page: ReviewPage, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.page = session, page
        self.edits = EditQueue(session, self)
        self.previews = ThumbnailLoader(self, threads=2, cache_bytes=PREVIEW_CACHE_BYTES)
        self.previews.set_edge(preview_edge())
        self.previews.loaded.connect(self._preview_loaded)
        self.binding = TagEditBinding(page.tag_editor, session, self.edits, self.target, self)
        self.queue: list[int] = []
        self.items: dict[int, QueueItem] = {}
        self.position = -1
        self.shown_id: int | None = None  # the image whose tags and caption are on screen
        self.active = False
        self.root: Path | None = None
        self._generation = 0
        self._describing: set[int] = set()
        self._details_asked = 0
        page.next_requested.connect(lambda: self.step(1))
        page.previous_requested.connect(lambda: self.step(-1))
        page.reviewed_next_requested.connect(self.reviewed_next)
        page.leave_requested.connect(self.leave)
        page.only_unreviewed_changed.connect(self._only_unreviewed)
        page.filmstrip.jump_requested.connect(self.go)
        page.view.zoom_changed.connect(lambda zoom: self._save("zoom", zoom))
        page.caption.save_requested.connect(
            lambda image_id, text: self.edits.submit(
                "caption", lambda s: s.set_caption(EditTarget(ids=(image_id,)), text, apply=True)
            )
        )
        session.edited.connect(lambda _report: self._reload_current())
        session.changed_elsewhere.connect(lambda _version: self._reload_current())
        self._query = ""
        self._sort: str | None = None  # None: the query's default order

    @staticmethod
    def filmstrip(parent: QObject | None = None) -> Filmstrip:
        loader = ThumbnailLoader(parent)
        loader.set_edge(128)
        return Filmstrip(loader)

    # -- state per project -------------------------------------------------------------------

    def _settings(self) -> QSettings | None:
        return QSettings(str(self.root / STATE_FILE), QSettings.Format.IniFormat) if self.root else None

    def _save(self, key: str, value: Any) -> None:
        settings = self._settings()
        if settings is not None:
            settings.setValue(f"review/{key}", value)

    def _load(self, key: str, default: Any, kind: type) -> Any:
        settings = self._settings()
        if settings is None:
            return default
        value = settings.value(f"review/{key}", default)
        try:
            return kind(value) if kind is not bool else value in (True, "true", "1", 1)
        except (TypeError, ValueError):
            return default

    def remembered_image(self) -> int | None:
        image_id = self._load("image_id", 0, int)
        return image_id or None

    # -- the queue ---------------------------------------------------------------------------

    def target(self) -> tuple[int, ...]:
        image_id = self.current_id()
        return (image_id,) if image_id is not None else ()

    def current_id(self) -> int | None:
        return self.queue[self.position] if 0 <= self.position < len(self.queue) else None

    def enter(self, query: str, sort: str | None = None, image_id: int | None = None) -> Task | None:
        """Start reviewing the search `query` at `image_id` (else where this project was left), in
        the grid's order (`sort` None: the query's default, as `SearchService.sort_for` decides)."""
        search = self.session.search
        if search is None:
            return None
        self.root = search.project.root
        self.active = True
        self._query, self._sort = query, sort
        was_blocked = self.page.only_unreviewed.blockSignals(True)  # restoring it is no click
        self.page.only_unreviewed.setChecked(self._load("only_unreviewed", False, bool))
        self.page.only_unreviewed.blockSignals(was_blocked)
        self.page.view.zoom = max(1.0, self._load("zoom", 1.0, float))
        self.entered.emit()
        return self._resolve(image_id if image_id is not None else self.remembered_image())

    def _resolve(self, start_at: int | None) -> Task | None:
        search = self.session.search
        if search is None:
            return None
        query = self._query
        if self.page.only_unreviewed.isChecked():
            query = f"({query}) {UNREVIEWED}" if query.strip() else UNREVIEWED
        sort = self._sort
        self._generation += 1
        generation = self._generation
        self.page.view.set_image(None, "Loading…")

        def work(_p: ProgressCallback, _c: CancelToken) -> list[int]:
            return search.ordered_ids(query, sort=sort)

        def ready(ids: list[int]) -> None:
            if generation != self._generation or not self.active:
                return
            self.queue = ids
            self.items = {}
            self._describing = set()
            self.position = -1  # a new queue: whatever is shown now belongs to the old one
            self.queue_ready.emit(len(ids))
            position = ids.index(start_at) if start_at in ids else 0
            self.go(position)

        return self.session.start("review queue", work, ready)

    def _only_unreviewed(self, only: bool) -> None:
        self._save("only_unreviewed", only)
        if self.active:
            self._resolve(self.current_id())

    def leave(self) -> None:
        if not self.active:
            return
        self.page.caption.commit()
        self.active = False
        self.left.emit(self.current_id())

    # -- moving ------------------------------------------------------------------------------

    def step(self, delta: int) -> None:
        if self.queue:
            self.go(max(0, min(len(self.queue) - 1, self.position + delta)))

    def reviewed_next(self) -> None:
        """Ctrl+Enter: the typed caption is saved, the image marked reviewed, and the next shown."""
        image_id = self.current_id()
        if image_id is None:
            return
        self.page.caption.commit()
        self.edits.submit(
            "reviewed", lambda s: s.mark_reviewed(EditTarget(ids=(image_id,)), reviewed=True, apply=True)
        )
        if image_id in self.items:
            self.items[image_id] = replace(self.items[image_id], reviewed=True)
        if self.position < len(self.queue) - 1:
            self.go(self.position + 1)
        else:
            self._show_title()
            self.session.message.emit("End of the review queue")

    def go(self, position: int) -> None:
        if not 0 <= position < len(self.queue):
            self.page.caption.show_caption(None, None)
            self.page.tag_editor.set_entries([])
            self.page.view.set_image(None, "Nothing to review: the search is empty")
            self.page.show_title("", 0, 0, False)
            return
        changed = position != self.position
        self.position = position
        image_id = self.queue[position]
        self._save("image_id", image_id)
        if changed:
            self.page.tag_editor.forget_selection()
            self.page.tag_editor.set_entries([])  # never another image's tags under this one
            self.shown_id = None
            self.page.caption.show_caption(image_id, None)  # saves what was typed for the last one
            self.page.caption.setEnabled(False)  # until this image's caption has arrived
        self._describe_around(position)
        self._show_preview()
        self._show_title()
        self._show_strip()
        self._load_details(image_id)
        self.page.focus_input()

    def _describe_around(self, position: int) -> None:
        """Fetch names and paths of the queue window around `position` not known yet."""
        search = self.session.search
        low, high = max(0, position - WINDOW), min(len(self.queue), position + WINDOW + 1)
        wanted = [i for i in self.queue[low:high] if i not in self.items and i not in self._describing]
        if search is None or not wanted:
            return
        self._describing.update(wanted)
        generation = self._generation

        def described(items: dict[int, QueueItem]) -> None:
            if generation != self._generation:
                return
            self.items.update(items)
            self._describing.difference_update(wanted)
            self._show_preview()
            self._show_title()
            self._show_strip()

        self.session.start("review window", lambda _p, _c: describe(search, wanted), described)

    def _show_preview(self) -> None:
        """The current preview from the cache (or "Loading…"), and the next ones decoded ahead."""
        image_id = self.current_id()
        if image_id is None:
            return
        ahead = self.queue[self.position + 1 : self.position + 1 + PREFETCH_AHEAD]
        behind = self.queue[max(0, self.position - PREFETCH_BEHIND) : self.position]
        for other in [*reversed(ahead), *behind]:  # requested first, decoded after the current
            if other in self.items:
                self.previews.get(other, self.items[other].original)
        item = self.items.get(image_id)
        image = self.previews.get(image_id, item.original) if item is not None else None
        if image is None:
            if self.page.view.message != "Loading…" or not self.page.view.image.isNull():
                self.page.view.set_image(None, "Loading…")
        elif image is not self.page.view.image:
            self.page.view.set_image(image, "" if not image.isNull() else "This image cannot be read")

    def _preview_loaded(self, ids: list[int]) -> None:
        if self.current_id() in ids:
            self._show_preview()

    def _show_title(self) -> None:
        image_id = self.current_id()
        if image_id is None:
            return
        item = self.items.get(image_id)
        text = f"<b>#{image_id}</b>" + (f" {item.name} · {item.width}x{item.height}" if item else "")
        self.page.show_title(text, self.position, len(self.queue), bool(item and item.reviewed))

    def _show_strip(self) -> None:
        """The described window around the current image; the strip draws as many as fit (so a
        wider window shows more without asking again)."""
        low, high = max(0, self.position - WINDOW), min(len(self.queue), self.position + WINDOW + 1)
        strip = [
            StripItem(position, image_id, item.thumbnail, item.reviewed)
            for position, image_id in enumerate(self.queue[low:high], start=low)
            if (item := self.items.get(image_id)) is not None
        ]
        self.page.filmstrip.set_items(strip, self.position)

    def _load_details(self, image_id: int) -> None:
        """Only the newest request is shown: an older read finishing later (the one asked for on
        arrival, overtaken by the one after an edit) must not put back the tags before the edit."""
        search = self.session.search
        if search is None:
            return
        self._details_asked += 1
        asked = self._details_asked

        def shown(record: dict[str, Any]) -> None:
            if asked != self._details_asked or self.current_id() != image_id or not self.active:
                return
            manual = [c["caption"] for c in record["captions"] if c["source"] == "manual"]
            self.page.caption.show_caption(image_id, manual[0] if manual else None)
            self.page.caption.setEnabled(True)
            self.page.tag_editor.set_entries(tag_entries(record["tags"]))
            self.shown_id = image_id
            if image_id in self.items:
                self.items[image_id] = replace(self.items[image_id], reviewed=bool(record.get("reviewed_at")))
                self._show_title()
            self.shown.emit(image_id)

        self.session.start("review details", lambda _p, _c: search.details([image_id])[0], shown)

    def _reload_current(self) -> None:
        image_id = self.current_id()
        if self.active and image_id is not None:
            self._load_details(image_id)

    def shutdown(self) -> None:
        self.previews.shutdown()
        self.page.filmstrip.loader.shutdown()
