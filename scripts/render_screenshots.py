"""Render the README screenshots offscreen on a generated demo project.

    uv run python scripts/render_screenshots.py [--out docs/screenshots] [--only duplicates ...]

Everything (settings, projects, images) lives in a temporary folder; the window registers the demo
folder itself (a broken file included), so the progress panel shows a real run. The main window is
rendered at 1024x640, 1600x1000 and 3840x2160, light and dark, each in its default layout; then
the annotate, export and duplicates dialogs (`--only` renders some of them).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

VOCABULARY = (
    ["1girl", "solo", "long_hair", "smile", "outdoors", "sky", "cloud", "red_dress", "looking_at_viewer"],
    ["no_humans", "landscape", "mountain", "sunset", "scenery", "tree", "water"],
    ["cat", "animal_focus", "indoors", "sitting", "window", "blurry_background"],
)
CAPTIONS = (
    "a girl in a red dress smiling under a cloudy sky",
    "a mountain lake at sunset with trees on the shore",
    "a cat sitting by a window, soft light",
)


WINDOW_SIZES = ((1024, 640), (1600, 1000), (3840, 2160))
SHOTS = ("main", "annotate", "export", "duplicates")


def make_demo_folder(folder: Path, count: int, seed: int = 7) -> None:
    """Gradients with shapes (three themes), two near-duplicates and one broken file."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        theme = index % 3
        width, height = rng.choice([(768, 1024), (1024, 768), (896, 896), (640, 960)])
        top = [(240, 120, 140), (250, 150, 60), (90, 120, 160)][theme]
        bottom = [(60, 80, 170), (40, 30, 90), (200, 190, 160)][theme]
        image = Image.new("RGB", (width, height))
        draw = ImageDraw.Draw(image)
        for y in range(height):
            t = y / height
            draw.line(
                [(0, y), (width, y)],
                fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
            )
        for _ in range(rng.randint(3, 7)):
            x, y, r = rng.randint(0, width), rng.randint(0, height), rng.randint(40, 220)
            colour = tuple(rng.randint(30, 255) for _ in range(3))
            shape = draw.ellipse if rng.random() < 0.6 else draw.rectangle
            shape([x - r, y - r, x + r, y + r], fill=colour)
        image = image.filter(ImageFilter.GaussianBlur(1.5))
        name = ["portrait", "landscape", "cat"][theme]
        image.save(folder / f"{name}_{index:03d}.jpg", quality=90)
        if index in (4, 10):
            image.resize((width // 2, height // 2)).save(folder / f"{name}_{index:03d}_small.jpg", quality=80)
    (folder / "corrupted_download.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated before any pixels")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "screenshots"
    )
    parser.add_argument("--images", type=int, default=36)
    parser.add_argument("--only", nargs="+", choices=SHOTS, default=list(SHOTS), help="Render only these.")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lorairo-shots-") as temp:
        home = Path(temp)
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        os.environ["LORAIRO_CONFIG_PATH"] = str(home / "config" / "lorairo.toml")
        os.environ["LORAIRO_DATABASE_DIR"] = str(home / "projects")
        make_demo_folder(home / "my-dataset", args.images)
        render(home, out, set(args.only))


def render(home: Path, out: Path, only: set[str]) -> None:
    from PySide6.QtWidgets import QApplication, QWidget

    from lorairo.gui.app import application, create_window
    from lorairo.gui.theme import theme_manager
    from lorairo.services.configuration_service import ConfigurationService
    from lorairo.services.edit_service import EditTarget

    app = application()

    def pump(condition: Callable[[], bool], seconds: float = 60) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not condition():
            app.processEvents()
            time.sleep(0.01)
        if not condition():
            raise TimeoutError("the window did not reach the expected state")

    def settle(seconds: float = 0.6) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def save(widget: QWidget, name: str) -> None:
        settle()
        widget.grab().save(str(out / name))
        print(out / name)

    config = ConfigurationService()
    window = create_window(config, "my-lora")
    window.resize(1500, 940)
    window.show()
    pump(lambda: window.project is not None)
    task = window.register.register_paths([home / "my-dataset"])
    assert task is not None
    pump(lambda: task.done, 300)
    registered = task.result.counts.registered
    pump(lambda: window.model.total == registered)
    edits = window.session.edits
    assert edits is not None
    total = window.model.total
    pump(lambda: len(window.model.loaded_items()) == total)
    themes = ("portrait", "landscape", "cat")
    for theme, tags in enumerate(VOCABULARY):
        ids = tuple(item.id for item in window.model.loaded_items() if item.name.startswith(themes[theme]))
        edits.add_tags(EditTarget(ids=ids), tags, apply=True)
        edits.set_caption(EditTarget(ids=ids[: len(ids) // 2 or 1]), CAPTIONS[theme], apply=True)
        edits.set_rating(EditTarget(ids=ids), "general", apply=True)
        edits.set_score(EditTarget(ids=ids[::2]), 7.5 - theme, apply=True)
    edits.mark_reviewed(EditTarget(ids=tuple(range(1, total + 1, 4))), apply=True)
    edits.reject_tags(EditTarget(ids=(2,)), ["blurry_background", "window"], apply=True)
    window.search.refresh()
    window.search_bar.set_text("")
    pump(lambda: window.model.item(0) is not None)
    window.grid.select_rows([0])
    pump(lambda: window.inspector.image_id is not None)
    window.view.viewport().grab()
    pump(lambda: window.loader.cached_count >= min(total, 12))
    themes = theme_manager(app)
    for theme in ("light", "dark") if "main" in only else ():
        themes.apply(theme)
        for width, height in WINDOW_SIZES:
            window.resize(width, height)
            window.default_layout()  # as a fresh window of this size opens
            settle()
            window.grid.view.viewport().grab()  # asks for the thumbnails the new size shows
            pump(lambda: not window.loader.busy())
            save(window, f"main_{width}x{height}_{theme}.png")
    themes.apply("light")
    window.resize(1600, 1000)

    if "annotate" in only:
        annotate = window.annotate.open_dialog(window)
        assert annotate is not None
        annotate.resize(720, 600)
        pump(annotate.run_button.isEnabled)
        annotate.check_model("wd-vit-tagger-v3")
        save(annotate, "annotate_dialog.png")
        annotate.close()

    if "export" in only:
        export = window.export.open_dialog(window)
        assert export is not None
        export.trigger.setText("ohwx woman")
        export.quality_tags.setChecked(True)
        export.dataset_toml.setChecked(True)
        pump(lambda: export.preview.toPlainText().startswith("ohwx"))
        pump(lambda: "would be exported" in export.count_label.text())
        save(export, "export_dialog.png")
        export.close()

    if "duplicates" in only:  # the demo's pHash near-duplicates (no embedder runs here)
        duplicates = window.duplicates.open_dialog(window)
        assert duplicates is not None
        duplicates.resize(980, 640)
        pump(lambda: duplicates.report is not None and bool(duplicates.cards))
        tiles = [tile for card in duplicates.cards for tile in card.tiles]
        pump(lambda: all(not tile.icon().isNull() for tile in tiles))
        duplicates.keep_best(duplicates.report.groups if duplicates.report else [])
        pump(duplicates.apply_button.isEnabled)  # the dry run's count, as the user sees it first
        save(duplicates, "duplicates_dialog.png")
        duplicates.close()
    window.close()
    QApplication.processEvents()


if __name__ == "__main__":
    main()
