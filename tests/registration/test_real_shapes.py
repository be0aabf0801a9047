"""A folder shaped like the real world: odd sizes, strips, panoramas, phone photos with EXIF
rotation, 16-bit and palette PNGs, CMYK, animations, progressive JPEGs, broken files, and a file
that makes our own code raise. Every file is registered or rejected with a reason; a re-run
registers and rejects nothing new; only an `internal error` is tried again."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from lorairo.errors import ValidationError
from lorairo.registration import decode
from lorairo.services import registration_service
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import Project
from lorairo.services.registration_service import RegistrationService
from lorairo.storage import render
from lorairo.storage.validation import INTERNAL_ERROR
from tests.factories import make_image_file
from tests.registration.conftest import images_by_name


def _photo(size: tuple[int, int], seed: int) -> PILImage.Image:
    """Smooth colour fields plus grain: decodes and compresses like a photograph."""
    rng = np.random.default_rng(seed)
    base = PILImage.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize(
        size, PILImage.Resampling.BICUBIC
    )
    grain = rng.integers(-8, 8, (size[1], size[0], 3), dtype=np.int16)
    return PILImage.fromarray((np.asarray(base, dtype=np.int16) + grain).clip(0, 255).astype(np.uint8))


def build_corpus(folder: Path) -> dict[str, tuple[int, int] | str]:
    """Write the corpus; returns the expected upright size of each image, or the rejection reason."""
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, tuple[int, int] | str] = {}

    def image(
        name: str, picture: PILImage.Image, upright: tuple[int, int] | None = None, **options: object
    ) -> None:
        picture.save(folder / name, **options)
        expected[name] = upright or picture.size

    for seed, size in enumerate([(1, 1), (1, 997), (997, 1), (1, 5000), (2, 3), (211, 367), (1009, 1013)]):
        image(f"odd_{size[0]}x{size[1]}.png", _photo(size, seed))
    image("panorama_8to1.jpg", _photo((4096, 512), 10), quality=90)
    image("panorama_1to8.webp", _photo((300, 2400), 11), quality=80)
    exif = PILImage.Exif()
    exif[0x0112] = 6
    image("phone_12mp_rot6.jpg", _photo((4000, 3000), 12), upright=(3000, 4000), exif=exif, quality=90)
    exif[0x0112] = 8
    image("phone_rot8.jpg", _photo((1196, 1667), 13), upright=(1667, 1196), exif=exif, quality=90)
    image("crop_bug_1196x1667.jpg", _photo((1196, 1667), 14), quality=90)
    image("progressive.jpg", _photo((1500, 1000), 15), quality=85, progressive=True)
    sixteen = (np.asarray(_photo((320, 240), 16).convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    image("gray16.png", PILImage.fromarray(sixteen))
    image("palette.png", _photo((300, 200), 17).quantize(64))
    transparent = _photo((200, 300), 18).convert("P", palette=PILImage.Palette.ADAPTIVE)
    image("palette_transparent.gif", transparent, transparency=0)
    image("cmyk.jpg", _photo((640, 480), 19).convert("CMYK"), quality=90)
    image("cmyk.tif", _photo((200, 150), 20).convert("CMYK"))
    image("rgba.webp", _photo((333, 222), 21).convert("RGBA"), lossless=True)
    frames = [_photo((160, 120), 30 + n) for n in range(3)]
    image("animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=100, loop=0)
    image("animated.webp", frames[0], save_all=True, append_images=frames[1:], duration=100, loop=0)
    whole = (folder / "progressive.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
    expected["truncated.jpg"] = "truncated image"
    (folder / "zero.png").write_bytes(b"")
    expected["zero.png"] = "empty file"
    return expected


def test_every_real_shape_is_registered_or_rejected_and_a_rerun_adds_nothing(
    tmp_path: Path, config: ConfigurationService, project: Project
) -> None:
    config.update_setting("image_processing", "target_resolutions", [512, 1024])
    expected = build_corpus(tmp_path / "corpus")

    report = RegistrationService(project, config).register([tmp_path / "corpus"])

    rejected = {Path(f["path"]).name: f["reason"] for f in report.failed}
    registered = images_by_name(project)
    assert set(rejected) | set(registered) == set(expected)
    assert rejected == {name: want for name, want in expected.items() if isinstance(want, str)}
    for name, want in expected.items():
        if not isinstance(want, str):
            assert (registered[name].width, registered[name].height) == want, name
            assert (project.root / registered[name].stored_path).is_file()

    again = RegistrationService(project, config).register([tmp_path / "corpus"])
    assert again.counts.registered == 0 and again.failed == []
    assert again.counts.skipped_existing == len(registered)
    assert again.counts.previously_rejected == len(rejected)


def _explode_on_boom(path: Path) -> object:
    if "boom" in path.name:
        raise KeyError("injected fault")
    return _original_read_sidecar(path)


_original_read_sidecar = decode.read_sidecar


@pytest.fixture
def forked_workers(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Workers that inherit this process's patches (the fault below is injected into them)."""
    monkeypatch.setattr(registration_service, "_pool_context", lambda: multiprocessing.get_context("fork"))
    return monkeypatch


def test_an_unexpected_exception_is_an_internal_error_and_the_run_goes_on(
    tmp_path: Path, config: ConfigurationService, project: Project, forked_workers: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "in"
    for n in range(4):
        make_image_file(folder / f"ok{n}.png", (80, 60), seed=n)
    make_image_file(folder / "boom.png", (80, 60), seed=9)
    whole = make_image_file(folder / "whole.jpg", (256, 256), seed=8, fmt="JPEG").read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "whole.jpg").unlink()
    forked_workers.setattr(decode, "read_sidecar", _explode_on_boom)

    report = RegistrationService(project, config).register([folder])

    failures = {Path(f["path"]).name: f for f in report.failed}
    assert report.counts.registered == 4
    assert failures["boom.png"]["reason"] == INTERNAL_ERROR
    assert failures["boom.png"]["message"] == "KeyError: 'injected fault'"
    assert failures["truncated.jpg"]["reason"] == "truncated image"

    # A fixed version picks the internal error up; the truncated file is not decoded again.
    forked_workers.setattr(decode, "read_sidecar", _original_read_sidecar)
    rerun = RegistrationService(project, config).register([folder])
    assert rerun.counts.registered == 1 and rerun.failed == []
    assert rerun.counts.previously_rejected == 1
    assert "boom.png" in images_by_name(project)

    # Once the file changes, its rejection no longer stands.
    later = time.time() + 5
    os.utime(folder / "truncated.jpg", (later, later))
    changed = RegistrationService(project, config).register([folder])
    assert [(Path(f["path"]).name, f["reason"]) for f in changed.failed] == [
        ("truncated.jpg", "truncated image")
    ]


def test_images_process_contains_failures_per_file(
    tmp_path: Path, config: ConfigurationService, project: Project, forked_workers: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "in"
    make_image_file(folder / "a.png", (1196, 1667), seed=1)
    make_image_file(folder / "b.png", (300, 200), seed=2)
    service = RegistrationService(project, config)
    service.register([folder])
    stored_b = project.root / images_by_name(project)["b.png"].stored_path

    def explode_on_b(image: PILImage.Image, size: tuple[int, int]) -> PILImage.Image:
        if image.size == (300, 200):
            raise RuntimeError("injected fault")
        return original_resize(image, size)

    original_resize = render.resize_to_bucket
    forked_workers.setattr(render, "resize_to_bucket", explode_on_b)
    report = service.process(768)

    assert report.processed == 1
    assert [(f["path"], f["reason"], f["message"]) for f in report.failed] == [
        (str(stored_b.relative_to(project.root)), INTERNAL_ERROR, "RuntimeError: injected fault")
    ]


def test_the_projects_own_folder_is_never_scanned(
    tmp_path: Path, config: ConfigurationService, project: Project
) -> None:
    make_image_file(tmp_path / "photos" / "a.png", (80, 60), seed=1)
    service = RegistrationService(project, config)
    service.register([tmp_path / "photos"])
    assert project.root.is_relative_to(tmp_path)  # the project's originals and thumbnails are below

    report = service.register([tmp_path])

    assert (report.counts.registered, report.counts.duplicates, report.failed) == (0, 0, [])
    assert report.counts.skipped_existing == 1
    with pytest.raises(ValidationError, match="own data folder"):
        service.register([project.root / "images"])
