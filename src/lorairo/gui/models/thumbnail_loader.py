"""Background thumbnail decoding with a bounded LRU cache.

The stored thumbnails (`images.thumbnail_path`, 512 px since the grid offers that size) are read,
scaled while decoding by `QImageReader`. Only a thumbnail smaller than the cell while its original
is larger (stored at 256 px by an older version) is replaced by the original decoded at the cell's
size, so a project registered before stays sharp without being re-registered. Requests go to a LIFO queue: while the user
scrolls fast, the rows on screen now are decoded before the ones that scrolled past, and the queue
is capped so stale requests are dropped (a row re-requests when painted again). Decoded images are
handed back in batches: one queued wake-up per burst rather than one per image, so a screenful of
arriving thumbnails costs the GUI thread one slot call and one repaint.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QImageReader

MAX_QUEUED = 512
DEFAULT_CACHE_BYTES = 96 * 1024 * 1024


class _Decoder(QRunnable):
    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__()
        self.loader = loader

    def run(self) -> None:
        self.loader._drain()


def decode_thumbnail(path: Path, edge: int) -> QImage:
    """The image scaled to fit `edge` x `edge`, decoded at that size; a null QImage on failure."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and (size.width() > edge or size.height() > edge):
        reader.setScaledSize(size.scaled(QSize(edge, edge), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        return image
    if image.width() > edge or image.height() > edge:  # formats without scaled decoding
        image = image.scaled(
            edge, edge, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
    return image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)


def _undersized(image: QImage, edge: int, original: Path) -> bool:
    """A thumbnail smaller than the cell whose original has more pixels to give (header read only)."""
    if image.isNull() or max(image.width(), image.height()) >= edge:
        return False
    size = QImageReader(str(original)).size()
    return size.isValid() and max(size.width(), size.height()) > max(image.width(), image.height())


class ThumbnailLoader(QObject):
    """`get` answers from the cache or queues a decode; `loaded(image_ids)` fires when a batch is ready."""

    loaded = Signal(list)
    idle = Signal()  # nothing queued or decoding: every thumbnail asked for is in the cache
    _ready = Signal()

    def __init__(
        self, parent: QObject | None = None, *, threads: int = 2, cache_bytes: int = DEFAULT_CACHE_BYTES
    ) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self.cache_bytes = cache_bytes
        self.edge = 160
        self._cache: OrderedDict[int, QImage] = OrderedDict()
        self._cached_bytes = 0
        self._queue: OrderedDict[int, tuple[Path, Path | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0
        self._running = 0
        self._done: list[tuple[int, int, QImage]] = []
        self._ready.connect(self._store, Qt.ConnectionType.QueuedConnection)

    def set_edge(self, edge: int) -> None:
        """Change the thumbnail size: cached images of the old size are dropped."""
        if edge == self.edge:
            return
        with self._lock:
            self.edge = edge
            self._generation += 1
            self._queue.clear()
        self._cache.clear()
        self._cached_bytes = 0

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._queue.clear()
        self._cache.clear()
        self._cached_bytes = 0

    def get(self, image_id: int, path: Path | None, original: Path | None = None) -> QImage | None:
        """The cached thumbnail (a null QImage when it cannot be read) or None while it loads;
        `original` stands in for a thumbnail smaller than the cell."""
        image = self._cache.get(image_id)
        if image is not None:
            self._cache.move_to_end(image_id)
            return image
        if path is None:
            return QImage()
        with self._lock:
            self._queue[image_id] = (path, original)
            self._queue.move_to_end(image_id)
            while len(self._queue) > MAX_QUEUED:
                self._queue.popitem(last=False)
            start = self._running < self.pool.maxThreadCount()
            if start:
                self._running += 1
        if start:
            self.pool.start(_Decoder(self))
        return None

    def _drain(self) -> None:
        """Worker thread: decode newest requests first until the queue is empty."""
        while True:
            with self._lock:
                if not self._queue:
                    self._running -= 1
                    last = self._running == 0
                    break
                image_id, (path, original) = self._queue.popitem(last=True)
                edge, generation = self.edge, self._generation
            image = decode_thumbnail(path, edge)
            if original is not None and _undersized(image, edge, original):
                image = decode_thumbnail(original, edge)
            with self._lock:
                wake = not self._done
                self._done.append((generation, image_id, image))
            if wake:
                self._ready.emit()
        if last:
            self._ready.emit()  # the GUI thread learns the queue drained (see `idle`)

    def busy(self) -> bool:
        with self._lock:
            return bool(self._queue or self._running or self._done)

    @Slot()
    def _store(self) -> None:
        """GUI thread: move every image decoded since the last wake-up into the cache."""
        with self._lock:
            done, self._done = self._done, []
        ids = []
        for generation, image_id, image in done:
            if generation != self._generation:
                continue
            old = self._cache.pop(image_id, None)
            if old is not None:
                self._cached_bytes -= old.sizeInBytes()
            self._cache[image_id] = image
            self._cached_bytes += image.sizeInBytes()
            ids.append(image_id)
        while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
            _, dropped = self._cache.popitem(last=False)
            self._cached_bytes -= dropped.sizeInBytes()
        if ids:
            self.loaded.emit(ids)
        if not self.busy():
            self.idle.emit()

    @property
    def cached_count(self) -> int:
        return len(self._cache)

    def shutdown(self) -> None:
        with self._lock:
            self._queue.clear()
        self.pool.waitForDone()
