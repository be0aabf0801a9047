"""Non-destructive crops: stored through the edit log, found by `crop:set`, applied by export
before the resize (pixels equal Pillow's crop + resize), undone by `edits undo`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageOps

from lorairo.errors import ValidationError
from lorairo.export.crop import CropBox, box_for_aspect, parse_aspect, parse_box, parse_focus
from lorairo.export.options import ExportOptions
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditService, EditTarget
from lorairo.services.export_service import ExportService
from lorairo.services.search_service import SearchService
from lorairo.storage.imaging import to_rgb
from tests.export.builders import Builder, add_varied
from tests.export.cli_helpers import cli


def pixels(path: Path) -> np.ndarray:
    with PILImage.open(path) as image:
        return np.asarray(image.convert("RGB"), np.int16)


def upright(path: Path) -> PILImage.Image:
    with PILImage.open(path) as image:
        return to_rgb(ImageOps.exif_transpose(image))


def ids_for(builder: Builder, query: str) -> list[int]:
    return [image_id for batch in SearchService(builder.project).iter_ids(query) for image_id in batch]


@pytest.fixture
def images(builder: Builder) -> dict[str, int]:
    found = {
        "png": builder.image("c", "wide.png", seed=1, size=(1200, 800)),
        "rotated": add_varied(builder, "c", "turned.jpg", "rotated", (300, 200), 2),  # upright 200x300
        "plain": builder.image("c", "plain.jpg", seed=3, size=(64, 48)),
    }
    for image_id in found.values():
        builder.tag(image_id, "scenery", model="wd-tagger", confidence=0.9)
    return found


def test_crop_is_applied_before_resize_and_undo_removes_it(
    builder: Builder, images: dict[str, int], config: ConfigurationService, tmp_path: Path
) -> None:
    edits = EditService(builder.project)
    box = CropBox(200, 100, 800, 600)  # 4:3, so the 512 bucket is exactly 512x384
    dry = edits.set_crop(EditTarget(ids=(images["png"],)), box)
    assert dry.images_changed == 1 and ids_for(builder, "crop:set") == []
    edits.set_crop(EditTarget(ids=(images["png"],)), box, apply=True)
    edits.set_crop(EditTarget(ids=(images["rotated"],)), CropBox(20, 100, 160, 120), apply=True)
    assert ids_for(builder, "crop:set") == [images["png"], images["rotated"]]
    assert ids_for(builder, "-crop:set") == [images["plain"]]

    service = ExportService(builder.project, config)
    original = builder.project.root / "images/c/wide.png"
    report = service.export(ExportOptions(target=tmp_path / "r512", resolution=512))
    assert report.cropped == 2
    expected = upright(original).crop((200, 100, 1000, 700)).resize((512, 384), PILImage.Resampling.LANCZOS)
    assert np.array_equal(pixels(tmp_path / "r512/wide.png"), np.asarray(expected, np.int16))
    with PILImage.open(tmp_path / "r512/turned.jpg") as image:
        assert image.size == (128, 64)  # a 160x120 crop, not upscaled: sides down to multiples of 64

    service.export(ExportOptions(target=tmp_path / "orig"))
    assert np.array_equal(
        pixels(tmp_path / "orig/wide.png"),
        np.asarray(upright(original).crop((200, 100, 1000, 700)), np.int16),
    )
    turned = upright(builder.project.root / "images/c/turned.jpg").crop((20, 100, 180, 220))
    assert np.abs(pixels(tmp_path / "orig/turned.jpg") - np.asarray(turned, np.int16)).mean() < 4
    assert original.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and PILImage.open(original).size == (1200, 800)

    edits.undo()
    edits.undo()
    assert ids_for(builder, "crop:set") == []
    service.export(ExportOptions(target=tmp_path / "undone"))
    assert (tmp_path / "undone/wide.png").read_bytes() == original.read_bytes()


def test_crop_geometry() -> None:
    assert box_for_aspect(600, 400, 2 / 3, "center") == CropBox(166, 0, 267, 400)
    assert box_for_aspect(400, 600, 1.0, "top") == CropBox(0, 0, 400, 400)
    assert box_for_aspect(400, 600, 1.0, (0.5, 1.0)) == CropBox(0, 200, 400, 400)
    assert box_for_aspect(600, 400, 1.0, (0.0, 0.5)) == CropBox(0, 0, 400, 400)
    assert parse_box("1,2,3,4") == CropBox(1, 2, 3, 4)
    assert parse_aspect("2:3") == pytest.approx(2 / 3)
    assert parse_focus("0.25,0.75") == (0.25, 0.75)
    for bad in ("1,2,3", "a,b,c,d", "0,0,0,5", "-1,0,5,5"):
        with pytest.raises(ValidationError):
            parse_box(bad)
    for bad_aspect in ("2:0", "x", "1:1000"):
        with pytest.raises(ValidationError):
            parse_aspect(bad_aspect)
    with pytest.raises(ValidationError):
        parse_focus("middle")


def test_cli_crop(builder: Builder, images: dict[str, int], capsys: pytest.CaptureFixture[str]) -> None:
    png = str(images["png"])
    code, data = cli(capsys, "images", "crop", png, "-p", "demo", "--box", "0,0,1300,10", "--apply")
    assert code == 2 and "does not fit" in data["error"]["message"]
    code, data = cli(capsys, "images", "crop", png, "-p", "demo", "--box", "0,0,10,10", "--aspect", "1:1")
    assert code == 2
    code, data = cli(capsys, "images", "crop", png, "-p", "demo", "--aspect", "2:3")
    assert code == 0 and data["applied"] is False and ids_for(builder, "crop:set") == []
    code, data = cli(capsys, "images", "crop", png, "-p", "demo", "--aspect", "2:3", "--apply")
    assert code == 0 and data["images_changed"] == 1
    code, data = cli(capsys, "images", "search", "crop:set", "-p", "demo")
    assert code == 0
    assert ids_for(builder, "crop:set") == [images["png"]]
    code, data = cli(capsys, "images", "crop", png, "-p", "demo", "--clear", "--apply")
    assert code == 0 and ids_for(builder, "crop:set") == []
    code, data = cli(capsys, "edits", "undo", "-p", "demo")
    assert code == 0 and ids_for(builder, "crop:set") == [images["png"]]
