"""The virtualised thumbnail grid's model, fed page by page (the delegate paints it).

The model knows only the result count and the pages the view has asked for (a bounded number
are kept); rows of pages not loaded yet paint as placeholders and request their page from a
worker. Nothing here is one widget per image, and no query runs on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from lorairo.gui.models.thumbnail_loader import ThumbnailLoader
from lorairo.gui.workers import TaskRunner
from lorairo.services.search_service import SearchPage, SearchService
from lorairo.utils.quality_flags import is_blurry, is_dark, is_small

PAGE_SIZE = 200
MAX_PAGES = 60
ITEM_ROLE = Qt.ItemDataRole.UserRole + 1
THUMBNAIL_ROLE = Qt.ItemDataRole.UserRole + 2
PAINT_ROLE = Qt.ItemDataRole.UserRole + 3  # (item, thumbnail) in one call: fewer GIL round trips per frame
APPENDING_SORTS = frozenset({"added", "id"})
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class GridItem:
    id: int
    name: str
    width: int
    height: int
    tags: tuple[str, ...]
    caption: str | None
    score: float | None
    rating: str | None
    reviewed: bool
    thumbnail: Path | None
    original: Path  # the stored original: decoded when the thumbnail is smaller than the grid's cells
    source: Path  # where the file was registered from (the user's folder)
    near_duplicate: bool
    failed: bool
    rejected_only: bool
    blurry: bool = False
    dark: bool = False
    letterbox: bool = False
    small: bool = False

    @property
    def tooltip(self) -> str:
        lines = [f"#{self.id} {self.name} ({self.width}x{self.height})"]
        quality = [name for name in ("blurry", "dark", "letterbox", "small") if getattr(self, name)]
        if quality:
            lines.append(", ".join(quality))
        if self.score is not None:
            lines.append(f"score {self.score:.2f}")
        if self.rating:
            lines.append(f"rating {self.rating}")
        if self.tags:
            lines.append(", ".join(self.tags))
        if self.caption:
            lines.append(self.caption[:200])
        return "\n".join(lines)


class GridSource(Protocol):
    """Where the grid's rows come from; called from worker threads only."""

    def count(self, query: str) -> int: ...

    def first_page(self, query: str, sort: str | None, limit: int) -> tuple[list[GridItem], int, str]: ...

    def page(
        self, query: str, sort: str | None, offset: int, limit: int, total: int | None = None
    ) -> list[GridItem]: ...

    def ids(self, query: str, sort: str | None, offset: int, limit: int) -> list[int]: ...


class SearchGridSource:
    """Rows from `SearchService`: one page of summaries plus thumbnail paths and badges.
    `resolution`: the training resolution an image is `small` for (None: no such badge)."""

    def __init__(self, search: SearchService, resolution: int | None = None) -> None:
        self.search = search
        self.project = search.project
        self.resolution = resolution

    def count(self, query: str) -> int:
        return self.search.count(query)

    def first_page(self, query: str, sort: str | None, limit: int) -> tuple[list[GridItem], int, str]:
        """The first page, the result count and the order it came in (`sort` None: the query's
        default) from one read: what a new query needs to paint."""
        page = self.search.search(query, sort=sort, limit=limit)
        return self._items(page), page.total or 0, page.sort

    def page(
        self, query: str, sort: str | None, offset: int, limit: int, total: int | None = None
    ) -> list[GridItem]:
        """`total`: the count the grid already has, so the page query does not recount."""
        page = self.search.search(
            query, sort=sort, limit=limit, offset=offset, with_total=False, known_total=total
        )
        return self._items(page)

    def _items(self, page: SearchPage) -> list[GridItem]:
        flags = self.search.grid_flags(page.ids)
        items = []
        for summary in page.summaries:
            flag = flags.get(summary.id)
            thumbnail = flag.thumbnail_path if flag else None
            items.append(
                GridItem(
                    id=summary.id,
                    name=summary.name,
                    width=summary.width,
                    height=summary.height,
                    tags=tuple(summary.tags),
                    caption=summary.caption,
                    score=summary.score,
                    rating=summary.rating,
                    reviewed=summary.reviewed,
                    thumbnail=self.project.file_path(thumbnail) if thumbnail else None,
                    original=self.project.file_path(summary.stored_path),
                    source=Path(summary.file_path),
                    near_duplicate=bool(flag and flag.near_duplicate),
                    failed=bool(flag and flag.failed),
                    rejected_only=bool(flag and flag.rejected_only),
                    blurry=bool(flag and is_blurry(flag.blur)),
                    dark=bool(flag and is_dark(flag.brightness)),
                    letterbox=bool(flag and flag.letterbox),
                    small=self.resolution is not None
                    and is_small(summary.width, summary.height, self.resolution),
                )
            )
        return items

    def ids(self, query: str, sort: str | None, offset: int, limit: int) -> list[int]:
        return self.search.search(query, sort=sort, limit=limit, offset=offset, with_total=False).ids


class ThumbnailModel(QAbstractListModel):
    """`set_query` recounts and resets; rows fill in as their pages arrive."""

    count_changed = Signal(int)
    query_failed = Signal(object)
    page_loaded = Signal(int)

    def __init__(self, loader: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.queries = TaskRunner(self, max_threads=2)
        self.source: GridSource | None = None
        self.query = ""
        self.sort_key: str | None = None  # None: each query's default order (similarity for similar:)
        self.order = "added"  # the order the shown result came in
        self.total = 0
        self._generation = 0
        self._pages: dict[int, list[GridItem]] = {}
        # page -> number of its newest read: an older read still in flight when an edit forced a
        # new one lands stale, and is dropped
        self._pending: dict[int, int] = {}
        self._reads = 0
        self._rows: dict[int, int] = {}
        self._counting = False
        self._live_asked = 0  # numbers live refreshes: only the newest one is applied
        loader.loaded.connect(self._thumbnail_loaded)

    # -- queries -----------------------------------------------------------------------------

    def set_source(self, source: GridSource | None, query: str | None = None) -> None:
        """Browse another project: `query` (else the current one) over the new source."""
        self.source = source
        self.loader.clear()
        self.set_query(self.query if query is None else query, self.sort_key)

    def set_query(self, query: str, sort: str | None = None) -> None:
        """Show a new result: its first page and count come from one worker read."""
        self.query = query
        self.sort_key = sort or self.sort_key
        self._generation += 1
        self._pending.clear()
        self._pages.clear()
        self._rows.clear()
        if self.source is None:
            self._reset(0)
            return
        generation = self._generation
        source, query, sort_key = self.source, self.query, self.sort_key
        read = self._pending[0] = self._next_read()
        self.queries.start(
            "first page",
            lambda _p, _c: source.first_page(query, sort_key, PAGE_SIZE),
            lambda result: self._first_page_arrived(generation, read, *result),
            lambda exc: self._query_error(generation, exc),
        )

    def refresh(self) -> None:
        """Reload the current result after an edit (count and pages)."""
        self.set_query(self.query, self.sort_key)

    def refresh_count(self) -> None:
        """Pick up rows added meanwhile (a registration running): append them, keep the view."""
        if self.source is None or self._counting:
            return
        self._counting = True
        generation = self._generation
        source, query = self.source, self.query

        def counted(total: int) -> None:
            self._counting = False
            if generation != self._generation or total == self.total:
                return
            if total > self.total and self.order in APPENDING_SORTS:
                last_page = self.total // PAGE_SIZE
                self._drop_page(last_page)
                self.beginInsertRows(QModelIndex(), self.total, total - 1)
                self.total = total
                self.endInsertRows()
                self.count_changed.emit(total)
            else:
                self.refresh()

        task = self.queries.start("recount", lambda _p, _c: source.count(query), counted)
        task.failed.connect(lambda _exc: setattr(self, "_counting", False))

    def _first_page_arrived(
        self, generation: int, read: int, items: list[GridItem], total: int, order: str
    ) -> None:
        if generation == self._generation:
            self.order = order
            self._reset(total)
            self._page_arrived(generation, 0, read, items)

    def _reset(self, total: int) -> None:
        self.beginResetModel()
        self.total = total
        self.endResetModel()
        self.count_changed.emit(total)

    def _query_error(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self._reset(0)
            self.query_failed.emit(exc)

    def _request_page(self, page: int, *, force: bool = False) -> None:
        if (not force and (page in self._pending or page in self._pages)) or self.source is None:
            return
        read = self._pending[page] = self._next_read()
        generation = self._generation
        source, query, sort, total = self.source, self.query, self.sort_key, self.total
        self.queries.start(
            f"page {page}",
            lambda _p, _c: source.page(query, sort, page * PAGE_SIZE, PAGE_SIZE, total),
            lambda items: self._page_arrived(generation, page, read, items),
            lambda exc: self._query_error(generation, exc),
        )

    def _next_read(self) -> int:
        self._reads += 1
        return self._reads

    def _page_arrived(self, generation: int, page: int, read: int, items: list[GridItem]) -> None:
        if generation != self._generation or self._pending.get(page) != read:
            return
        del self._pending[page]
        self._drop_page(page)
        self._pages[page] = items
        first = page * PAGE_SIZE
        for offset, item in enumerate(items):
            self._rows[item.id] = first + offset
        self._evict(page)
        last = min(first + len(items), self.total) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first), self.index(last))
        self.page_loaded.emit(page)

    def _evict(self, keep: int) -> None:
        while len(self._pages) > MAX_PAGES:
            farthest = max(self._pages, key=lambda p: abs(p - keep))
            self._drop_page(farthest)

    def _drop_page(self, page: int) -> None:
        for item in self._pages.pop(page, []):
            self._rows.pop(item.id, None)

    # -- model interface -------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else self.total

    def item(self, row: int) -> GridItem | None:
        """The row's item when its page is loaded; otherwise None, and the page is requested."""
        if not 0 <= row < self.total:
            return None
        page = row // PAGE_SIZE
        items = self._pages.get(page)
        if items is None:
            self._request_page(page)
            return None
        offset = row - page * PAGE_SIZE
        return items[offset] if offset < len(items) else None

    def loaded_items(self) -> list[GridItem]:
        return [item for page in sorted(self._pages) for item in self._pages[page]]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self.item(index.row())
        if item is None:
            return "…" if role == Qt.ItemDataRole.DisplayRole else None
        if role == Qt.ItemDataRole.DisplayRole:
            return item.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.tooltip
        if role == ITEM_ROLE:
            return item
        if role == THUMBNAIL_ROLE:
            return self.loader.get(item.id, item.thumbnail, item.original)
        if role == PAINT_ROLE:
            return item, self.loader.get(item.id, item.thumbnail, item.original)
        return None

    def _thumbnail_loaded(self, image_ids: list[int]) -> None:
        """One change notice spanning the batch: the view repaints once, not once per image."""
        rows = [row for row in map(self._rows.get, image_ids) if row is not None and row < self.total]
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)), [THUMBNAIL_ROLE])

    def selection_resolver(self, ranges: list[tuple[int, int]]) -> Callable[[], list[int]]:
        """A function for a worker that returns the ids of row ranges (inclusive), fetching the
        rows whose page is not loaded; the query is captured now, so later searches do not
        change what it returns."""
        known: list[int] = []
        if sum(bottom - top + 1 for top, bottom in ranges) <= PAGE_SIZE * 5:
            for top, bottom in ranges:
                for row in range(top, bottom + 1):
                    page = self._pages.get(row // PAGE_SIZE, [])
                    if row % PAGE_SIZE >= len(page):
                        break
                    known.append(page[row % PAGE_SIZE].id)
            if len(known) == sum(bottom - top + 1 for top, bottom in ranges):
                return lambda: list(known)
        source, query, sort = self.source, self.query, self.sort_key

        def resolve() -> list[int]:
            if source is None:
                return []
            ids: list[int] = []
            for top, bottom in ranges:
                offset = top
                while offset <= bottom:
                    limit = min(bottom - offset + 1, 5000)
                    ids.extend(source.ids(query, sort, offset, limit))
                    offset += limit
            return ids

        return resolve

    def live_refresh(self, rows: range, current: int = -1, held: Iterable[int] = ()) -> None:
        """The result changed under the view (another process stored something, or an edit of
        this window changed the match count): re-read the count and, in one worker read, the pages
        of `rows` (the visible ones), of `current` and of the `held` rows (the selection), each
        widened by the change in count, the farthest a surviving image can have moved when images
        only left or only came. Every row the view holds on to (its selection, its current index)
        then moves to where its image now is, so both follow their images; new rows appear at the
        end, rows whose image left the result go. Other pages are dropped and re-read when
        scrolled to. The view is never reset, so it keeps its scroll."""
        if self.source is None:
            return
        anchor = rows.start if rows else max(current, 0)  # the pages nearest the eye come first
        wanted = {anchor, *rows}
        if current >= 0:
            wanted.add(current)
        wanted.update(row for row in held if row // PAGE_SIZE in self._pages)  # ids known: followable
        self._live_asked += 1
        generation, asked, old_total = self._generation, self._live_asked, self.total
        source, query, sort = self.source, self.query, self.sort_key

        def read(_p: Any, _c: Any) -> tuple[int, dict[int, list[GridItem]], int]:
            total = source.count(query)
            shift = abs(total - old_total)
            pages = _pages_around(wanted, shift, total, anchor)
            return (
                total,
                {page: source.page(query, sort, page * PAGE_SIZE, PAGE_SIZE, total) for page in pages},
                shift,
            )

        self.queries.start(
            "live refresh", read, lambda result: self._live_arrived(generation, asked, *result)
        )

    def _live_arrived(
        self, generation: int, asked: int, total: int, pages: dict[int, list[GridItem]], shift: int
    ) -> None:
        if generation != self._generation or asked != self._live_asked:
            return
        old_total = self.total
        old_ids = {row: image_id for image_id, row in self._rows.items()}
        if total > old_total:
            self.beginInsertRows(QModelIndex(), old_total, total - 1)
            self.total = total
            self.endInsertRows()
        self.layoutAboutToBeChanged.emit()
        for page in list(self._pages):
            self._drop_page(page)
        for page in pages:
            self._pending.pop(page, None)
        for page, items in pages.items():
            self._pages[page] = items
            for offset, item in enumerate(items):
                self._rows[item.id] = page * PAGE_SIZE + offset
        last_page = max(0, total - 1) // PAGE_SIZE

        def searched(row: int) -> bool:
            """Every page its image can have moved to was read: not found there, it left."""
            first, last = max(0, row - shift) // PAGE_SIZE, min(last_page, (row + shift) // PAGE_SIZE)
            return all(page in pages for page in range(first, last + 1))

        before = self.persistentIndexList()
        after = []
        for index in before:
            image_id = old_ids.get(index.row())
            if image_id is not None and image_id in self._rows:
                after.append(self.index(self._rows[image_id]))
            elif image_id is not None and searched(index.row()):
                after.append(QModelIndex())  # its image left the result
            else:
                after.append(self.index(index.row()))  # nothing known about it: it stays
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()
        if total < old_total:
            self.beginRemoveRows(QModelIndex(), total, old_total - 1)
            self.total = total
            self.endRemoveRows()
        if total != old_total:
            self.count_changed.emit(total)

    def soft_refresh(self, rows: range = range(0), current: int = -1, held: Iterable[int] = ()) -> None:
        """After an edit of this window: reload the loaded pages in place when the count is
        unchanged; otherwise follow the images like `live_refresh` (never a reset: the scroll,
        the current image and the selection stay with their images, minus those that left)."""
        if self.source is None:
            return
        generation = self._generation
        source, query = self.source, self.query

        def counted(total: int) -> None:
            if generation != self._generation:
                return
            if total != self.total:
                self.live_refresh(rows, current, held)
                return
            for page in list(self._pages):
                self._request_page(page, force=True)

        self.queries.start("recount", lambda _p, _c: source.count(query), counted)


def _pages_around(rows: set[int], shift: int, total: int, anchor: int) -> list[int]:
    """The pages holding rows within `shift` of `rows` (inside a result of `total`), at most
    `MAX_PAGES` of them, those nearest the `anchor` row kept first."""
    if total <= 0:
        return []
    last_page = (total - 1) // PAGE_SIZE
    spans: list[list[int]] = []  # merged page ranges: a large selection costs its distinct pages
    for row in sorted(rows):
        first, last = max(0, row - shift) // PAGE_SIZE, min(last_page, (row + shift) // PAGE_SIZE)
        if spans and first <= spans[-1][1] + 1:
            spans[-1][1] = max(spans[-1][1], last)
        elif first <= last:
            spans.append([first, last])
    pages = [page for first, last in spans for page in range(first, last + 1)]
    nearest = sorted(pages, key=lambda page: (abs(page - anchor // PAGE_SIZE), page))
    return sorted(nearest[:MAX_PAGES])
