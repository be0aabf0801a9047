"""Registration end to end through the service: real files, real database, real worker processes."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import func, select

from lorairo.database.schema import (
    SOURCE_EXISTING,
    Caption,
    Image,
    ImageSimilarity,
    ProcessedImage,
    RegistrationFailure,
    Tag,
)
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.progress import CancelToken
from lorairo.services.project_service import Project
from lorairo.services.registration_service import BatchCommitted, RegistrationService
from tests.factories import make_image_file
from tests.registration.conftest import images_by_name


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """Where test images go; not `tmp_path` itself, which also holds the project folder."""
    folder = tmp_path / "src"
    folder.mkdir()
    return folder


def _count(project: Project, table: type) -> int:
    with project.database.read_session() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def _huge_png_header(path: Path, width: int, height: int) -> Path:
    """A tiny file whose header claims a gigantic image: the decompression-bomb shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
    return path


def test_exact_duplicates_across_folders_are_not_registered_twice(
    source: Path, service: RegistrationService, project: Project
) -> None:
    first = make_image_file(source / "a" / "one.png", (128, 96), seed=1)
    copy = source / "b" / "deeper" / "same.png"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(first.read_bytes())
    make_image_file(source / "b" / "other.png", (128, 96), seed=2)

    report = service.register([source / "a", source / "b"])

    assert report.counts.registered == 2
    assert _count(project, Image) == 2
    [duplicate] = report.duplicates
    assert duplicate["path"] == str(copy.resolve())
    assert duplicate["duplicate_of_path"] == str(first.resolve())
    assert duplicate["duplicate_of"] == images_by_name(project)["one.png"].id


def test_near_duplicates_are_linked_and_different_images_are_not(
    source: Path, service: RegistrationService, project: Project
) -> None:
    original = make_image_file(source / "orig.png", (640, 480), seed=7)
    with PILImage.open(original) as image:
        image.save(source / "reencoded.jpg", quality=60)
        image.resize((512, 384), PILImage.Resampling.LANCZOS).save(source / "smaller.png")
    for seed in range(20, 26):
        make_image_file(source / f"different{seed}.png", (640, 480), seed=seed)

    report = service.register([source])

    assert report.counts.registered == 9
    rows = images_by_name(project)
    linked = {entry["path"]: entry for entry in report.near_duplicates}
    for name in ("reencoded.jpg", "smaller.png"):
        entry = linked[str((source / name).resolve())]
        assert {match["image_id"] for match in entry["similar_to"]} <= {
            rows["orig.png"].id,
            rows["reencoded.jpg"].id,
            rows["smaller.png"].id,
        }
        assert all(match["distance"] <= 6 for match in entry["similar_to"])
    assert not any("different" in path for path in linked)
    with project.database.read_session() as session:
        pairs = session.execute(select(ImageSimilarity.image_id, ImageSimilarity.similar_to_id)).all()
    family = {rows[n].id for n in ("orig.png", "reencoded.jpg", "smaller.png")}
    assert pairs and all(a in family and b in family for a, b in pairs)


def test_bad_files_are_rejected_with_their_reason_and_the_rest_registered(
    source: Path, config: ConfigurationService, project: Project
) -> None:
    config.update_setting("image_processing", "max_file_size_mb", 0.05)
    good = make_image_file(source / "good.png", (64, 64), seed=1)
    (source / "empty.png").write_bytes(b"")
    whole = make_image_file(source / "whole.jpg", (256, 256), seed=2, fmt="JPEG", quality=95).read_bytes()
    (source / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (source / "whole.jpg").unlink()
    (source / "notes.jpg").write_text("these are not pixels", encoding="utf-8")
    _huge_png_header(source / "bomb.png", 100_000, 100_000)
    rng = np.random.default_rng(0)
    PILImage.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(source / "big.bmp")

    report = RegistrationService(project, config).register([source])

    reasons = {Path(item["path"]).name: item["reason"] for item in report.failed}
    assert reasons == {
        "empty.png": "empty file",
        "truncated.jpg": "truncated image",
        "notes.jpg": "not an image",
        "bomb.png": "too many pixels",
        "big.bmp": "file too large",
    }
    assert report.counts.registered == 1
    assert images_by_name(project)["good.png"].file_path == str(good.resolve())
    with project.database.read_session() as session:
        stored = dict(
            session.execute(select(RegistrationFailure.file_path, RegistrationFailure.reason)).all()
        )
    assert {Path(path).name: reason for path, reason in stored.items()} == reasons


def test_pixel_cap_is_configurable(source: Path, config: ConfigurationService, project: Project) -> None:
    config.update_setting("image_processing", "max_pixels", 10_000)
    make_image_file(source / "ok.png", (90, 90))
    make_image_file(source / "large.png", (200, 200))
    report = RegistrationService(project, config).register([source])
    assert [(Path(f["path"]).name, f["reason"]) for f in report.failed] == [("large.png", "too many pixels")]


def test_modes_formats_and_orientation_are_registered_correctly(
    source: Path, service: RegistrationService, project: Project
) -> None:
    raw = PILImage.new("RGB", (256, 128), (0, 0, 255))
    raw.paste((255, 0, 0), (0, 0, 128, 128))  # left half red
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view: the red left half ends up on top
    raw.save(source / "rotated.jpg", exif=exif, quality=95)
    make_image_file(source / "gray.jpg", (128, 96), seed=3, mode="L", fmt="JPEG")
    palette = PILImage.new("P", (96, 64), 0)
    palette.putpalette([255, 255, 255, 200, 30, 30] + [0] * 762)
    palette.paste(1, (0, 0, 48, 64))
    palette.save(source / "palette.gif", transparency=0)
    PILImage.fromarray(np.full((64, 128), 40000, dtype=np.uint16)).save(source / "deep.png")
    PILImage.new("CMYK", (128, 64), (0, 255, 255, 0)).save(source / "cmyk.jpg")
    rgba = PILImage.new("RGBA", (128, 128), (0, 128, 0, 0))
    rgba.paste((0, 128, 0, 255), (0, 0, 64, 128))
    rgba.save(source / "alpha.png")

    report = service.register([source])

    assert report.counts.registered == 6 and not report.failed
    rows = images_by_name(project)
    rotated = rows["rotated.jpg"]
    assert (rotated.width, rotated.height) == (128, 256)
    assert (rows["gray.jpg"].mode, rows["gray.jpg"].format) == ("L", "JPEG")
    assert (rows["palette.gif"].mode, rows["palette.gif"].has_alpha) == ("P", True)
    assert rows["deep.png"].mode.startswith("I")
    assert rows["cmyk.jpg"].mode == "CMYK"
    assert rows["alpha.png"].has_alpha and not rows["gray.jpg"].has_alpha

    def processed(name: str) -> PILImage.Image:
        with project.database.read_session() as session:
            path = session.scalar(select(ProcessedImage.path).where(ProcessedImage.image_id == rows[name].id))
        assert path is not None and not Path(path).is_absolute()
        return PILImage.open(project.root / path)

    with processed("rotated.jpg") as image:
        assert image.size == (128, 256) and image.mode == "RGB"
        top, bottom = image.getpixel((64, 20)), image.getpixel((64, 236))
        assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60
    with processed("deep.png") as image:
        assert 140 < image.getpixel((10, 10))[0] < 170  # 40000/65535 of white, not clipped
    with processed("cmyk.jpg") as image:
        red = image.getpixel((10, 10))
        assert image.mode == "RGB" and red[0] > 200 and red[1] < 60
    with processed("alpha.png") as image:
        assert image.format == "PNG"
        assert image.getpixel((100, 64)) == (255, 255, 255)
        assert image.getpixel((10, 64)) == (0, 128, 0)
    with processed("palette.gif") as image:  # 96x64 centre-cropped to the 64x64 bucket
        assert image.size == (64, 64)
        assert image.getpixel((56, 32)) == (255, 255, 255)
        assert image.getpixel((8, 32)) == (200, 30, 30)


def test_stored_files_are_relative_and_present(
    source: Path, service: RegistrationService, project: Project
) -> None:
    make_image_file(source / "x.png", (2000, 1000), seed=4)
    service.register([source])
    row = images_by_name(project)["x.png"]
    assert not Path(row.stored_path).is_absolute() and row.thumbnail_path
    assert (project.root / row.stored_path).read_bytes() == (source / "x.png").read_bytes()
    with PILImage.open(project.root / row.thumbnail_path) as thumbnail:
        assert thumbnail.format == "WEBP" and max(thumbnail.size) == 512  # sharp at the largest grid size
    with project.database.read_session() as session:
        copy = session.scalars(select(ProcessedImage)).one()
    assert (copy.resolution, copy.width, copy.height) == (1024, 1024, 512)
    assert not (project.root / "images" / ".staging").exists() or not any(
        (project.root / "images" / ".staging").iterdir()
    )


def test_sidecars_are_imported_and_a_duplicates_sidecars_merged(
    source: Path, service: RegistrationService, project: Project
) -> None:
    first = make_image_file(source / "a" / "pic.png", seed=5)
    (source / "a" / "pic.txt").write_text("long_hair, 1girl, \\(artist\\), long_hair\n", encoding="utf-8")
    (source / "a" / "pic.caption").write_text("A girl with long hair.\n", encoding="utf-8")
    copy = source / "b" / "pic copy.png"
    copy.parent.mkdir()
    copy.write_bytes(first.read_bytes())
    (source / "b" / "pic copy.txt").write_text("smile, long hair", encoding="utf-8")

    report = service.register([source / "a", source / "b"])

    assert report.counts.registered == 1 and report.counts.sidecars_imported == 2
    with project.database.read_session() as session:
        tags = session.execute(
            select(Tag.tag, Tag.raw_tag, Tag.source, Tag.model_id, Tag.confidence).order_by(Tag.position)
        ).all()
        captions = session.execute(select(Caption.caption, Caption.source, Caption.model_id)).all()
    assert [(t.tag, t.raw_tag) for t in tags] == [
        ("long hair", "long_hair"),
        ("1girl", "1girl"),
        ("(artist)", "\\(artist\\)"),
        ("smile", "smile"),
    ]
    assert {(t.source, t.model_id, t.confidence) for t in tags} == {(SOURCE_EXISTING, None, None)}
    assert captions == [("A girl with long hair.", SOURCE_EXISTING, None)]


def test_rerun_registers_nothing_new(source: Path, service: RegistrationService, project: Project) -> None:
    for seed in range(5):
        make_image_file(source / f"{seed}.png", seed=seed)
    (source / "0.txt").write_text("a, b", encoding="utf-8")
    (source / "bad.png").write_bytes(b"")
    first = service.register([source])
    files_before = sorted(p for p in (project.root / "images").rglob("*") if p.is_file())

    second = service.register([source])

    assert (first.counts.registered, second.counts.registered) == (5, 0)
    assert second.counts.skipped_existing == 5 and second.counts.sidecars_imported == 0
    assert _count(project, Image) == 5 and _count(project, Tag) == 2
    assert _count(project, RegistrationFailure) == 1
    assert sorted(p for p in (project.root / "images").rglob("*") if p.is_file()) == files_before


def test_cancel_keeps_committed_batches_and_a_rerun_finishes(
    source: Path, config: ConfigurationService, project: Project
) -> None:
    config.update_setting("resources", "batch_size", 3)
    for seed in range(15):
        make_image_file(source / f"{seed:02}.png", seed=seed)
    cancel = CancelToken()
    batches: list[BatchCommitted] = []

    def on_batch(batch: BatchCommitted) -> None:
        batches.append(batch)
        cancel.cancel()

    service = RegistrationService(project, config)
    report = service.register([source], cancel=cancel, on_batch_committed=on_batch)

    assert report.cancelled and 3 <= report.counts.registered < 15
    assert batches[0].counts.registered == 3 and len(batches[0].image_ids) == 3
    assert _count(project, Image) == report.counts.registered
    rest = service.register([source])
    assert rest.counts.registered == 15 - report.counts.registered
    assert _count(project, Image) == 15


def test_interrupted_runs_leftovers_are_cleaned(
    source: Path, service: RegistrationService, project: Project
) -> None:
    dead = project.root / "images" / ".staging" / "999999999-dead"
    dead.mkdir(parents=True)
    orphan = project.root / "images" / "originals" / "ab" / ("ab" * 32 + ".png")
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left behind")
    (dead / "pending.json").write_text(
        json.dumps({"ab" * 32: [str(orphan.relative_to(project.root))]}), encoding="utf-8"
    )
    make_image_file(source / "new.png")
    service.register([source])
    assert not orphan.exists() and not dead.exists()


def test_process_generates_another_resolution(
    source: Path, service: RegistrationService, project: Project
) -> None:
    make_image_file(source / "wide.jpg", (1600, 900), seed=1, fmt="JPEG")
    make_image_file(source / "small.png", (300, 200), seed=2)
    service.register([source])

    report = service.process(512)
    again = service.process(512)

    assert (report.processed, again.processed, again.already_present) == (2, 0, 2)
    rows = images_by_name(project)
    with project.database.read_session() as session:
        copies = {
            (image_id, res): (path, w, h)
            for image_id, res, path, w, h in session.execute(
                select(
                    ProcessedImage.image_id,
                    ProcessedImage.resolution,
                    ProcessedImage.path,
                    ProcessedImage.width,
                    ProcessedImage.height,
                )
            )
        }
    path, width, height = copies[(rows["wide.jpg"].id, 512)]
    assert (width, height) == (512, 320)
    with PILImage.open(project.root / path) as image:
        assert image.size == (512, 320)
    assert copies[(rows["small.png"].id, 512)][1:] == (256, 192)
    assert copies[(rows["small.png"].id, 1024)][1:] == (256, 192)


def test_content_decides_the_format_not_the_extension(
    source: Path, service: RegistrationService, project: Project
) -> None:
    make_image_file(source / "really_a_png.jpg", (64, 64), seed=1, fmt="PNG")
    PILImage.new("RGB", (32, 32)).save(source / "icon.png", format="ICO")

    report = service.register([source])

    row = images_by_name(project)["really_a_png.jpg"]
    assert row.format == "PNG" and row.stored_path.endswith(".png")
    assert [(Path(f["path"]).name, f["reason"]) for f in report.failed] == [("icon.png", "not an image")]
