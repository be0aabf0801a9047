"""GUI responsiveness on a generated 100k-image project, offscreen.

    uv run python benchmarks/gui_bench.py [--n 100000] [--scroll-rows 5000] [--register 200]
    uv run python benchmarks/gui_bench.py --review [--review-images 200]
    uv run python benchmarks/gui_bench.py --live [--live-images 20000] [--live-reps 15]

Measures (1) window creation to the first page of thumbnails painted, (2) the longest GUI-thread
stall while scrolling through `--scroll-rows` rows, and (3) the longest stall while a registration
runs in the background. Stalls are measured with a 5 ms QTimer recording event-loop gaps.

Baseline, same run: the same view and delegate over a synchronous model (page queries and
thumbnail decoding on the GUI thread, as a worker-less implementation would do), and the same
registration called on the GUI thread.

`--review` measures review mode instead: (4) the key presses per image of a scripted keyboard-only
review session over `--review-images` images (add a tag, reject one, mark reviewed and go next),
and (5) the median time to render one review-mode frame at 1920x1080 of a 12 MP JPEG from the
cached preview decode: a repaint, a move to another cached image, a repaint zoomed in, the whole
page. Baselines, same run: a naive view that scales the full-resolution QPixmap to the window each
frame, and for moving on, that view decoding the next original on the GUI thread (taggui's way).

`--live` measures following other processes: (6) the p50 and worst latency from a tag written by
another process (its commit) to the grid's row showing it, on SQLite (the follower polls the
change counter each second) and on PostgreSQL (LISTEN/NOTIFY, a private server as in the tests),
and (7) the window's idle CPU with the follower running against the same window with it stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from PIL import Image as PILImage

THUMBNAILS = 300


def build_project(home: Path, n: int) -> None:
    """`n` image rows inserted with executemany, sharing a few hundred real thumbnail files."""
    from sqlalchemy import insert

    from lorairo.database.schema import Image
    from lorairo.services.configuration_service import ConfigurationService
    from lorairo.services.project_service import ProjectService

    project = ProjectService(ConfigurationService()).create("bench")
    thumbs = project.root / "images" / "thumbnails"
    thumbs.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    for index in range(THUMBNAILS):
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        image = PILImage.new("RGB", (256, 192), colour)
        for _ in range(6):
            x, y = rng.randint(0, 230), rng.randint(0, 170)
            image.paste(tuple(rng.randint(0, 255) for _ in range(3)), (x, y, x + 26, y + 22))
        image.save(thumbs / f"t{index}.webp", quality=80)
    rows = []
    with project.database.write_session() as session:
        for index in range(n):
            digest = hashlib.sha256(str(index).encode()).hexdigest()
            rows.append(
                {
                    "file_path": f"/data/set/img_{index:06d}.jpg",
                    "stored_path": f"images/originals/{digest[:2]}/{digest}.jpg",
                    "name": f"img_{index:06d}.jpg",
                    "file_size": 100_000,
                    "width": 1024,
                    "height": 1024,
                    "format": "JPEG",
                    "mode": "RGB",
                    "has_alpha": False,
                    "sha256": digest,
                    "phash": rng.getrandbits(64) - 2**63,
                    "thumbnail_path": f"images/thumbnails/t{index % THUMBNAILS}.webp",
                }
            )
            if len(rows) == 5000:
                session.execute(insert(Image), rows)
                rows.clear()
        if rows:
            session.execute(insert(Image), rows)
    project.close()


def make_folder(folder: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        image = PILImage.new("RGB", (512, 384), tuple(rng.randint(0, 255) for _ in range(3)))
        for _ in range(8):
            x, y = rng.randint(0, 480), rng.randint(0, 350)
            image.paste(tuple(rng.randint(0, 255) for _ in range(3)), (x, y, x + 40, y + 30))
        image.save(folder / f"new_{index:04d}.jpg", quality=85)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--scroll-rows", type=int, default=5000)
    parser.add_argument("--register", type=int, default=200)
    parser.add_argument("--review", action="store_true", help="benchmark review mode only")
    parser.add_argument("--review-images", type=int, default=200)
    parser.add_argument("--live", action="store_true", help="benchmark following other processes only")
    parser.add_argument("--live-images", type=int, default=20_000)
    parser.add_argument("--live-reps", type=int, default=15)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.review:
        review_main(args)
        return
    if args.live:
        live_main(args)
        return
    with tempfile.TemporaryDirectory(prefix="lorairo-guibench-") as temp:
        home = Path(temp)
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        os.environ["LORAIRO_CONFIG_PATH"] = str(home / "config" / "lorairo.toml")
        os.environ["LORAIRO_DATABASE_DIR"] = str(home / "projects")
        started = time.perf_counter()
        build_project(home, args.n)
        make_folder(home / "incoming-a", args.register, seed=2)
        make_folder(home / "incoming-b", args.register, seed=3)
        print(f"generated {args.n:,} rows + {THUMBNAILS} thumbnails in {time.perf_counter() - started:.1f}s")
        run(home, args)


def run(home: Path, args: argparse.Namespace) -> None:
    from PySide6.QtCore import QElapsedTimer, QObject, QTimer
    from PySide6.QtWidgets import QAbstractItemView, QApplication

    from lorairo.gui.app import application, create_window
    from lorairo.gui.models.thumbnail_loader import ThumbnailLoader, decode_thumbnail
    from lorairo.gui.models.thumbnail_model import PAGE_SIZE, SearchGridSource, ThumbnailModel
    from lorairo.gui.widgets.thumbnail_delegate import ThumbnailDelegate
    from lorairo.gui.widgets.thumbnail_view import ThumbnailGridView
    from lorairo.services.configuration_service import ConfigurationService
    from lorairo.services.project_service import ProjectService
    from lorairo.services.registration_service import RegistrationService
    from lorairo.services.search_service import SearchService

    app = application()

    class GapMeter(QObject):
        """A 5 ms timer; the largest delay between two ticks beyond 5 ms is the worst stall."""

        def __init__(self) -> None:
            super().__init__()
            self.timer = QTimer(self)
            self.timer.setInterval(5)
            self.timer.timeout.connect(self.tick)
            self.clock = QElapsedTimer()
            self.worst = 0.0

        def start(self) -> None:
            self.worst = 0.0
            self.clock.start()
            self.timer.start()

        def tick(self) -> None:
            elapsed = self.clock.nsecsElapsed() / 1e6
            self.clock.restart()
            self.worst = max(self.worst, elapsed - 5)
            if elapsed > 40 and os.environ.get("GUI_BENCH_TRACE"):
                print(f"gap {elapsed:.0f} ms at {time.monotonic():.3f}")

        def stop(self) -> float:
            self.tick()  # a GUI thread blocked until now never ticked: count that gap too
            self.timer.stop()
            return self.worst

    def pump(condition: Callable[[], bool], seconds: float = 600) -> None:
        end = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError("benchmark step did not finish")
            app.processEvents()
            time.sleep(0.001)

    def visible_rows(view: QAbstractItemView) -> list[int]:
        rows = []
        rect = view.viewport().rect()
        top = view.indexAt(rect.topLeft())
        row = top.row() if top.isValid() else 0
        while (
            row < view.model().rowCount() and view.visualRect(view.model().index(row)).top() < rect.bottom()
        ):
            rows.append(row)
            row += 1
        return rows

    def scroll(view: QAbstractItemView, rows: int, meter: GapMeter) -> float:
        """Scroll down one grid line per 10 ms timer tick until `rows` rows have passed."""
        bar = view.verticalScrollBar()
        line = view.visualRect(view.model().index(0)).height()
        columns = max(1, view.viewport().width() // view.visualRect(view.model().index(0)).width())
        target = min(bar.maximum(), (rows // columns) * line)
        stepper = QTimer()
        stepper.setInterval(10)
        stepper.timeout.connect(lambda: bar.setValue(bar.value() + line))
        meter.start()
        stepper.start()
        pump(lambda: bar.value() >= target)
        stepper.stop()
        return meter.stop()

    config = ConfigurationService()
    meter = GapMeter()

    # -- baseline: synchronous model and decoding on the GUI thread -------------------------
    class SyncLoader(ThumbnailLoader):
        def get(self, image_id: int, path: Path | None) -> object:  # type: ignore[override]
            image = self._cache.get(image_id)
            if image is None:
                image = decode_thumbnail(path, self.edge) if path else None
                if image is not None:
                    self._cache[image_id] = image
            return image

    class SyncModel(ThumbnailModel):
        def set_query(self, query: str, sort: str | None = None) -> None:
            self.query = query
            self.beginResetModel()
            self._pages.clear()
            self.total = self.source.count(query) if self.source else 0
            self.endResetModel()

        def _request_page(self, page: int, *, force: bool = False) -> None:
            assert self.source is not None
            self._pages[page] = self.source.page(
                self.query, self.sort_key, page * PAGE_SIZE, PAGE_SIZE, self.total
            )

    project = ProjectService(config).open("bench")
    started = time.perf_counter()
    view = ThumbnailGridView()
    loader = SyncLoader(view)
    loader.set_edge(160)
    model = SyncModel(loader, view)
    view.setModel(model)
    view.setItemDelegate(ThumbnailDelegate(view, 160))
    view.resize(1100, 760)
    model.set_source(SearchGridSource(SearchService(project)))
    view.show()
    view.viewport().grab()
    base_first = time.perf_counter() - started
    base_scroll = scroll(view, args.scroll_rows, meter)
    view.close()
    meter.start()
    RegistrationService(project, config).register([home / "incoming-a"])
    base_register = meter.stop()
    project.close()

    # -- ours ------------------------------------------------------------------------------
    rss_before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    window = create_window(config, "bench")
    window.resize(1400, 900)
    window.show()
    pump(lambda: window.model.total > 0 and window.model.item(0) is not None)
    grid = window.view
    pump(
        lambda: all(window.loader._cache.get(window.model.item(r).id) is not None for r in visible_rows(grid))
    )
    grid.viewport().grab()
    ours_first = time.perf_counter() - started
    ours_scroll = scroll(grid, args.scroll_rows, meter)
    meter.start()
    task = window.register.register_paths([home / "incoming-b"])
    assert task is not None
    pump(lambda: task.done)
    ours_register = meter.stop()
    report = task.result
    peak = psutil.Process().memory_info().rss
    window.close()
    QApplication.processEvents()

    print(f"rows: {window.model.total:,}; registered in the background: {report.counts.summary()}")
    print(f"{'metric':<44}{'baseline':>12}{'ours':>12}{'ratio':>10}")
    for name, base, ours in (
        ("window -> first page of thumbnails (ms)", base_first * 1000, ours_first * 1000),
        (f"longest stall scrolling {args.scroll_rows:,} rows (ms)", base_scroll, ours_scroll),
        ("longest stall during registration (ms)", base_register, ours_register),
    ):
        print(f"{name:<44}{base:>12.1f}{ours:>12.1f}{base / ours if ours else float('inf'):>9.1f}x")
    print(
        f"RSS: {rss_before / 2**20:.0f} MiB before the window, {peak / 2**20:.0f} MiB after scrolling and registering"
    )


def review_main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="lorairo-reviewbench-", ignore_cleanup_errors=True) as temp:
        home = Path(temp)
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        os.environ["LORAIRO_CONFIG_PATH"] = str(home / "config" / "lorairo.toml")
        os.environ["LORAIRO_DATABASE_DIR"] = str(home / "projects")
        frames = review_frames(home)
        presses = review_keys(home, args.review_images)
    print(f"{'review mode':<52}{'baseline':>12}{'ours':>12}{'ratio':>10}")
    for name, base, ours in frames:
        print(f"{name:<52}{base:>12.2f}{ours:>12.2f}{base / ours if ours else float('inf'):>9.1f}x")
    for name, value in presses:
        print(f"{name:<52}{value:>24.2f}")


def make_photo(path: Path, size: tuple[int, int], seed: int) -> None:
    """A photo-like JPEG: smooth gradients plus noise, so it decodes like a real one."""
    import numpy as np

    rng = np.random.default_rng(seed)
    width, height = size
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    base = np.stack([x * 200 + y * 30, y * 180 + 40 * x, (1 - x) * 120 + y * 100], axis=-1)
    noise = rng.normal(0, 12, (height, width, 3)).astype(np.float32)
    PILImage.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(path, quality=90)


def review_frames(home: Path, width: int = 1920, height: int = 1080) -> list[tuple[str, float, float]]:
    """Median ms per review-mode frame of a 12 MP image, ours against a naive full-size scale."""
    import statistics

    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QImageReader, QPainter, QPaintEvent, QPixmap
    from PySide6.QtWidgets import QWidget

    from lorairo.gui.app import application
    from lorairo.gui.controllers.review import ReviewController
    from lorairo.gui.models.thumbnail_loader import decode_thumbnail
    from lorairo.gui.widgets.review_view import ReviewPage

    app = application()
    photos = []
    for seed in range(2):
        path = home / f"photo_{seed}.jpg"
        make_photo(path, (4000 + 8 * seed, 3000), seed)
        photos.append(path)
    full = QImageReader(str(photos[0])).read()
    assert full.width() * full.height() >= 12_000_000

    def median_ms(frame: Callable[[], None], count: int = 40) -> float:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            frame()
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    class NaiveView(QWidget):
        """What a view without a preview cache does: the full image scaled to fit, every frame."""

        def __init__(self, image: QImage) -> None:
            super().__init__()
            self.pixmap = QPixmap.fromImage(image)

        def paintEvent(self, event: QPaintEvent) -> None:
            painter = QPainter(self)
            scaled = self.pixmap.scaled(
                self.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            painter.drawPixmap(0, 0, scaled)

    page = ReviewPage(ReviewController.filmstrip())
    page.resize(width, height)
    page.show()
    app.processEvents()
    view = page.view
    naive = NaiveView(full)
    naive.resize(view.size())
    naive.show()
    app.processEvents()
    edge = max(width, height)  # what `preview_edge` gives on a 1920x1080 screen
    decoded = [decode_thumbnail(path, edge) for path in photos]  # the cache holds these
    started = time.perf_counter()
    QImageReader(str(photos[0])).read()
    full_decode = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    decode_thumbnail(photos[0], edge)
    preview_decode = (time.perf_counter() - started) * 1000

    view.set_image(decoded[0])
    repaint = median_ms(view.repaint)
    flip = iter(range(10**6))
    switch = median_ms(lambda: (view.set_image(decoded[next(flip) % 2]), view.repaint()), 20)
    view.set_zoom(2.5, view.rect().center().toPointF())
    zoomed = median_ms(view.repaint)
    view.set_zoom(1.0)
    whole = median_ms(page.grab, 20)  # tags, caption, filmstrip and the image, rendered whole
    view.set_zoom(2.5, view.rect().center().toPointF())
    base = median_ms(naive.repaint, 10)
    turn = iter(range(10**6))

    def naive_next() -> None:
        """Moving on as taggui does: the next original decoded on the GUI thread, then shown."""
        naive.pixmap = QPixmap.fromImage(QImageReader(str(photos[next(turn) % 2])).read())
        naive.repaint()

    base_next = median_ms(naive_next, 6)
    view_size = f"{view.width()}x{view.height()}"
    return [
        (f"frame, repaint, view {view_size} (ms)", base, repaint),
        ("frame, next image (ms; baseline decodes on GUI thread)", base_next, switch),
        ("frame, zoomed 2.5x (ms)", base, zoomed),
        (f"frame, whole review page {width}x{height} (ms)", base, whole),
        ("decode 12 MP, full vs preview (worker, ms)", full_decode, preview_decode),
    ]


def review_keys(home: Path, count: int) -> list[tuple[str, float]]:
    """The scripted keyboard-only session of the GUI test (`tests/gui/review_script.py`) over
    `count` registered images of mixed sizes: key presses and typed characters per image."""
    import sys

    from PySide6.QtWidgets import QApplication

    from lorairo.gui.app import application, create_window
    from lorairo.services.configuration_service import ConfigurationService
    from lorairo.services.edit_service import EditService, EditTarget
    from lorairo.services.project_service import ProjectService
    from lorairo.services.registration_service import RegistrationService

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.gui.review_script import KeyLog, review_session

    app = application()
    folder = home / "review-images"
    folder.mkdir()
    rng = random.Random(5)
    for index in range(count):
        size = rng.choice([(640, 480), (480, 640), (512, 512), (900, 300), (300, 900)])
        image = PILImage.new("RGB", size, tuple(rng.randint(0, 255) for _ in range(3)))
        image.save(folder / f"r_{index:04d}.{'png' if index % 3 == 0 else 'jpg'}")
    config = ConfigurationService()
    project = ProjectService(config).create("review")
    RegistrationService(project, config).register([folder])
    EditService(project).add_tags(EditTarget(query="all"), ["draft"], apply=True)
    project.close()

    window = create_window(config, "review")
    window.resize(1920, 1080)
    window.show()
    window.activateWindow()

    def wait(condition: Callable[[], bool]) -> None:
        end = time.monotonic() + 60
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError("review step did not finish")
            app.processEvents()
            time.sleep(0.001)

    wait(lambda: window.model.total == count and window.model.item(0) is not None)
    log = KeyLog()
    started = time.perf_counter()
    reviewed = review_session(window, count, wait, log)
    elapsed = time.perf_counter() - started
    window.close()
    QApplication.processEvents()
    assert len(reviewed) == count
    add_and_next = (log.by_key["Enter"] + log.by_key["Ctrl+Enter"]) / count
    return [
        (f"key presses per image, add + reject + next ({count} images)", (log.presses - 1) / count),
        ("key presses per image, add a tag + reviewed-and-next", add_and_next),
        ("characters typed per image (the new tag)", log.typed / count),
        ("scripted session, ms per image (waits for the store)", elapsed * 1000 / count),
    ]


WRITER = """
import sys, time
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditService, EditTarget
from lorairo.services.project_service import ProjectService
project = ProjectService(ConfigurationService()).open("bench")
edits = EditService(project)
print("ready", flush=True)
for line in sys.stdin:  # "image id,tag"
    image_id, tag = line.strip().split(",")
    edits.add_tags(EditTarget(ids=(int(image_id),)), [tag], apply=True)
    print(time.time(), flush=True)
project.close()
"""


def live_main(args: argparse.Namespace) -> None:
    """(6) Latency from a write in another process to the grid showing it, SQLite polling against
    PostgreSQL LISTEN/NOTIFY, and (7) the follower's idle CPU cost."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.postgres_server import start_server

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    server, reason = start_server()
    if server is None:
        print(f"no PostgreSQL server ({reason}): SQLite only")
    rows: list[tuple[str, float, float, float, float, float]] = []
    try:
        for engine in ("sqlite", "postgresql"):
            if engine == "postgresql" and server is None:
                continue
            with tempfile.TemporaryDirectory(prefix="lorairo-livebench-", ignore_cleanup_errors=True) as temp:
                home = Path(temp)
                os.environ["LORAIRO_CONFIG_PATH"] = str(home / "config" / "lorairo.toml")
                os.environ["LORAIRO_DATABASE_DIR"] = str(home / "projects")
                os.environ.pop("LORAIRO_DATABASE_URL", None)
                if server is not None and engine == "postgresql":
                    os.environ["LORAIRO_DATABASE_URL"] = server.url(server.create_database())
                build_project(home, args.live_images)
                rows.append((engine, *live_latency(args.live_reps, args.idle_seconds)))
    finally:
        if server is not None:
            server.stop()
    print(
        f"\n{'live refresh (write elsewhere -> grid shows it)':<44}{'p50 ms':>8}{'max ms':>8}"
        f"{'idle CPU %':>11}{'stopped %':>11}{'read ms':>9}"
    )
    for engine, p50, worst, idle, baseline, read_ms in rows:
        how = "LISTEN/NOTIFY" if engine == "postgresql" else "polling 1 s"
        print(
            f"{engine + ' (' + how + ')':<44}{p50:>8.0f}{worst:>8.0f}{idle:>11.3f}{baseline:>11.3f}{read_ms:>9.3f}"
        )


def live_latency(reps: int, idle_seconds: float) -> tuple[float, float, float, float, float]:
    """Median and worst ms from the other process's commit to the grid's row showing the tag; idle CPU % of one core with the follower running and with it stopped (the live-worker
    count included); CPU ms of one change-counter read."""
    import statistics
    import subprocess

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from lorairo.gui.app import application, create_window
    from lorairo.services.change_watch import ChangeWatcher
    from lorairo.services.configuration_service import ConfigurationService

    app = application()
    window = create_window(ConfigurationService(), "bench")
    window.resize(1400, 900)
    window.show()

    def spin_until(done: Callable[[], bool], timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError("the grid did not show the change")
            app.processEvents()
            time.sleep(0.001)
        return time.time()

    def idle(seconds: float) -> float:
        process = psutil.Process()
        before = sum(process.cpu_times()[:2])
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()
        return 100 * (sum(process.cpu_times()[:2]) - before) / seconds

    spin_until(lambda: window.model.item(0) is not None and window.session.follower is not None)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert writer.stdin is not None and writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    rng = random.Random(7)
    latencies = []
    for rep in range(reps):
        idle(rng.uniform(1.1, 2.0))  # past the refresh limit, at a random phase of the polls
        tag = f"live{rep}"  # on image `rep + 1`, the grid's row `rep` (in view): a grid row
        writer.stdin.write(f"{rep + 1},{tag}\n")  # shows only an image's first few tags
        writer.stdin.flush()
        committed = float(writer.stdout.readline())
        seen = spin_until(
            lambda rep=rep, tag=tag: (row := window.model.item(rep)) is not None and tag in row.tags
        )
        latencies.append((seen - committed) * 1000)
    writer.stdin.close()
    writer.wait()
    idle(3.0)  # the last refresh's facet and vocabulary reads finish first
    following = idle(idle_seconds)
    window.session.stop_following()
    baseline = idle(idle_seconds)
    assert window.project is not None
    feed = ChangeWatcher(window.project)
    started = time.process_time()
    for _ in range(1000):
        feed.version()
    read_ms = time.process_time() - started  # CPU ms per read: total seconds over 1000 reads
    window.close()
    QApplication.processEvents()
    return statistics.median(latencies), max(latencies), following, baseline, read_ms


if __name__ == "__main__":
    main()
