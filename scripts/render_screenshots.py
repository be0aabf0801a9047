"""Render the README screenshots offscreen on a generated demo project.

    uv run python scripts/render_screenshots.py [--out docs/screenshots] [--only duplicates ...]

Everything (settings, projects, images) lives in a temporary folder; the window registers the demo
folder itself (a broken file included), so the progress panel shows a real run. The main window is
rendered at 1024x640, 1600x1000 and 3840x2160, light and dark, each in its default layout; review
mode at 1600x1000 on a photo-like 6 MP picture (a generated lake scene, so nothing is downloaded and
every run draws the same pictures); then the annotate, export and duplicates dialogs (`--only`
renders some of them).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
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

PHOTOS = (("sunset", 3), ("day", 5), ("mist", 8))  # the lake scenes: sky palette, seed
PHOTO_TAGS = ["no_humans", "scenery", "outdoors", "lake", "mountain", "reflection", "cloud", "sky"]
PHOTO_CAPTION = "a calm mountain lake at dusk, the ridges and the clouds mirrored in the water"
SKIES = {  # zenith, horizon, sun
    "sunset": ((0.10, 0.16, 0.38), (0.98, 0.62, 0.36), (1.0, 0.85, 0.6)),
    "day": ((0.18, 0.40, 0.78), (0.70, 0.84, 0.95), (1.0, 0.98, 0.92)),
    "mist": ((0.45, 0.52, 0.62), (0.86, 0.84, 0.80), (1.0, 0.96, 0.88)),
}

WINDOW_SIZES = ((1024, 640), (1600, 1000), (3840, 2160))
SHOTS = ("main", "review", "annotate", "export", "duplicates")


def _noise(rng: np.random.Generator, height: int, width: int, octaves: int, base: int = 4) -> np.ndarray:
    """Fractal value noise in [0, 1]: random grids of doubling resolution, smoothly upsampled."""
    total = np.zeros((height, width), np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        cells = base * 2**octave
        grid = rng.random((max(2, cells * height // width), cells)).astype(np.float32)
        total += amplitude * np.asarray(
            Image.fromarray(grid, "F").resize((width, height), Image.Resampling.BICUBIC)
        )
        norm += amplitude
        amplitude *= 0.55
    return np.clip((total - total.min()) / (np.ptp(total) + 1e-6), 0, 1)


def make_photo(path: Path, palette: str, seed: int, size: tuple[int, int] = (3000, 2000)) -> None:
    """A photo-like lake scene: sky gradient with sun glow and clouds, three hazy mountain ridges,
    their rippled reflection, a grassy shore and sensor grain; what review mode is for."""
    rng = np.random.default_rng(seed)
    width, height = size
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    rows = np.arange(height, dtype=np.float32)[:, None]
    horizon = 0.58
    top, low, sun = (np.array(c, np.float32) for c in SKIES[palette])
    t = np.clip(y / horizon, 0, 1) ** 1.4
    image = np.broadcast_to(top * (1 - t)[..., None] + low * t[..., None], (height, width, 3)).copy()
    distance = np.sqrt(((x - (0.3 + 0.4 * rng.random())) * width / height) ** 2 + (y - horizon + 0.08) ** 2)
    glow = np.exp(-((distance / 0.22) ** 2))[..., None] * 0.55
    image = image * (1 - glow) + sun * glow
    cloud = np.clip((_noise(rng, height, width, 7, base=3) - 0.55) * 3.5, 0, 1)
    cloud = (cloud * np.clip(1 - y / horizon, 0, 1) ** 0.6)[..., None] * 0.7
    image = image * (1 - cloud) + (low * 0.6 + sun * 0.4) * cloud
    texture = _noise(rng, height, width, 6, base=8)[..., None]
    for index, (lift, rock) in enumerate(
        (
            (0.20, (0.30, 0.32, 0.38)),
            (0.12, (0.22, 0.27, 0.24)),
            (0.06, (0.12, 0.17, 0.11)),
        )
    ):  # far (hazy) to near (dark)
        skyline = (horizon - lift * (0.35 + 0.65 * _noise(rng, 1, width, 8, base=2 + index)[0])) * height
        mask = (np.clip(rows - skyline[None, :], 0, 1) * (rows < horizon * height))[..., None]
        fog = 0.8 * (0.35 - 0.12 * index)
        colour = np.array(rock, np.float32) * (0.7 + 0.6 * texture) * (1 - fog) + low * fog
        image = image * (1 - mask) + colour * mask
    line = int(horizon * height)
    below = height - line
    depth = np.arange(below)[:, None]
    ripples = _noise(rng, below, width, 5, base=40)
    shift = (np.sin(depth * 0.9 + ripples * 12) * (3 + depth / 40)).astype(int)
    mirrored = image[line - 1 : line - 1 - below : -1]
    water = mirrored[depth, np.clip(np.arange(width)[None, :] + shift, 0, width - 1)]
    image[line:] = (water * 0.62 + np.array((0.05, 0.10, 0.14), np.float32) * 0.38) * (
        0.9 + 0.2 * ripples[..., None]
    )
    shore = height * (0.9 + 0.06 * _noise(rng, 1, width, 6, base=3)[0] - 0.18 * np.clip(0.35 - x[0], 0, 1))
    grass = np.array((0.08, 0.11, 0.05), np.float32) * (
        0.6 + 0.8 * _noise(rng, height, width, 3, base=300)[..., None]
    )
    image = np.where((rows > shore[None, :])[..., None], grass, image)
    image += rng.normal(0, 0.012, image.shape).astype(np.float32)
    picture = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8), "RGB")
    picture.filter(ImageFilter.GaussianBlur(1.2)).save(path, quality=92)


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
    for palette, photo_seed in PHOTOS:
        make_photo(folder / f"photo_lake_{palette}.jpg", palette, photo_seed)


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
    photos = tuple(item.id for item in window.model.loaded_items() if item.name.startswith("photo_"))
    edits.add_tags(EditTarget(ids=photos), PHOTO_TAGS, apply=True)
    edits.set_caption(EditTarget(ids=photos), PHOTO_CAPTION, apply=True)
    edits.set_rating(EditTarget(ids=photos), "general", apply=True)
    edits.set_score(EditTarget(ids=photos), 8.2, apply=True)
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
    if "review" in only:
        window.resize(1600, 1000)
        window.default_layout()
        rows = [
            row
            for row, item in enumerate(window.model.loaded_items())
            if item.name == "photo_lake_sunset.jpg"
        ]
        window.grid.select_rows(rows)
        pump(lambda: window.grid.current_image_id() is not None)
        window.enter_review()
        review, page = window.review, window.review_page
        pump(lambda: review.shown_id == window.grid.current_image_id() and page.view.image.width() > 0)
        for theme in ("light", "dark"):
            themes.apply(theme)
            settle()
            pump(lambda: not page.filmstrip.loader.busy())
            save(window, f"review_1600x1000_{theme}.png")
        review.leave()
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
