"""Quality measures through registration and the backfill: real files, a real project database,
real worker processes and the real CLI."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from PIL import ImageFilter
from sqlalchemy import delete, select

from lorairo.cli.main import main
from lorairo.database.schema import Image, ImageQuality
from lorairo.registration import decode
from lorairo.services import registration_service
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import Project
from lorairo.services.registration_service import RegistrationService
from lorairo.storage.quality import QUALITY_VERSION
from lorairo.utils.quality_flags import is_blurry, is_dark, is_small
from tests.registration.test_quality import boxed, scaled, scene


def build(folder: Path) -> None:
    """One file per defect, in several formats and modes, plus ordinary ones."""
    folder.mkdir(parents=True, exist_ok=True)
    scene((1600, 1200), 1).save(folder / "sharp.jpg", quality=70)
    scene((900, 1400), 2).convert("P").save(folder / "sharp_palette.png")
    scaled(scene((1200, 900), 3), 0.25, 0).save(folder / "dark.png")
    scene((1920, 1080), 4).filter(ImageFilter.GaussianBlur(25)).save(folder / "blurred.webp", quality=90)
    boxed(scene((1440, 600), 5), (1440, 1080), (0, 0, 0)).save(folder / "letterbox.jpg", quality=92)
    boxed(scene((1080, 1080), 6), (1920, 1080), (255, 255, 255)).save(folder / "pillarbox.png")
    scene((300, 200), 7).save(folder / "small.png")
    scene((1300, 1000), 8).convert("CMYK").save(folder / "cmyk.jpg", quality=50)


def rows_by_name(project: Project) -> dict[str, ImageQuality]:
    with project.database.read_session() as session:
        return {
            name: row
            for name, row in session.execute(
                select(Image.name, ImageQuality).join(ImageQuality, ImageQuality.image_id == Image.id)
            )
        }


def sizes_by_name(project: Project) -> dict[str, tuple[int, int]]:
    with project.database.read_session() as session:
        return {name: (w, h) for name, w, h in session.execute(select(Image.name, Image.width, Image.height))}


def check_flags(rows: dict[str, ImageQuality], sizes: dict[str, tuple[int, int]]) -> None:
    assert {name for name, row in rows.items() if is_blurry(row.blur)} == {"blurred.webp"}
    assert {name for name, row in rows.items() if is_dark(row.brightness)} == {"dark.png"}
    assert {name for name, row in rows.items() if row.letterbox} == {"letterbox.jpg", "pillarbox.png"}
    assert {name for name, size in sizes.items() if is_small(*size, 1024)} == {"small.png"}
    assert {name: row.jpeg_quality for name, row in rows.items() if row.jpeg_quality is not None} == {
        "sharp.jpg": 70,
        "letterbox.jpg": 92,
        "cmyk.jpg": 50,
    }


def test_registration_stores_the_measures_and_the_flags_are_right(
    tmp_path: Path, project: Project, config: ConfigurationService
) -> None:
    build(tmp_path / "in")
    RegistrationService(project, config).register([tmp_path / "in"])
    rows = rows_by_name(project)
    assert len(rows) == 8 and all(row.version == QUALITY_VERSION for row in rows.values())
    check_flags(rows, sizes_by_name(project))


def test_backfill_is_resumable_failure_safe_and_agrees_with_registration(
    tmp_path: Path, project: Project, config: ConfigurationService
) -> None:
    build(tmp_path / "in")
    config.config.resources.batch_size = 2
    service = RegistrationService(project, config)
    service.register([tmp_path / "in"])
    registered = {
        name: (row.blur, row.brightness, row.contrast) for name, row in rows_by_name(project).items()
    }
    with project.database.write_session() as session:
        session.execute(delete(ImageQuality))
        broken = session.scalars(select(Image.stored_path).where(Image.name == "sharp_palette.png")).one()
    (project.root / broken).write_bytes(b"not an image any more")

    def die_midway(done: int, total: int | None, message: str) -> None:
        if done == 5:
            raise KeyboardInterrupt  # a run killed after some batches committed

    with pytest.raises(KeyboardInterrupt):
        service.measure_quality(die_midway)
    kept = len(rows_by_name(project))
    assert 0 < kept < 7
    second = service.measure_quality()
    assert second.measured == 7 - kept and not second.cancelled
    assert [failure["path"] for failure in second.failed] == [broken]
    assert len(rows_by_name(project)) == 7

    # Measured from the stored original, as registration measures: same flags, close numbers.
    rows = rows_by_name(project)
    check_flags(rows, sizes_by_name(project))
    for name, row in rows.items():
        blur, brightness, contrast = registered[name]
        assert abs(row.brightness - brightness) < 0.02 and abs(row.contrast - contrast) < 0.02
        assert blur is not None and row.blur is not None and abs(row.blur - blur) < 0.2, name

    # Nothing left to do; a forced recompute measures everything again (and fails on the same file).
    assert service.measure_quality().measured == 0
    again = service.measure_quality(recompute=True)
    assert again.measured == 7 and len(again.failed) == 1


def test_cli_images_quality(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build(tmp_path / "in")
    main(["--json", "images", "register", str(tmp_path / "in"), "-p", "q"])
    capsys.readouterr()
    main(["--json", "images", "quality", "-p", "q"])
    report = json.loads(capsys.readouterr().out)
    assert (report["measured"], report["already_measured"], report["failed"]) == (0, 8, [])
    main(["--json", "images", "quality", "--recompute", "-p", "q"])
    assert json.loads(capsys.readouterr().out)["measured"] == 8


def test_a_failed_measure_never_costs_the_image_its_registration(
    tmp_path: Path, project: Project, config: ConfigurationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If measuring raises, the image registers without a row; the backfill measures it later.
    (Workers are forked so they see the injected failure.)"""

    def explode(*args: object) -> None:
        raise RuntimeError("measure failed")

    monkeypatch.setattr(registration_service, "_pool_context", lambda: multiprocessing.get_context("fork"))
    monkeypatch.setattr(decode, "measure", explode)
    folder = tmp_path / "in"
    folder.mkdir()
    scene((640, 480), 1).save(folder / "a.png")
    service = RegistrationService(project, config)
    assert service.register([folder]).counts.registered == 1
    assert rows_by_name(project) == {}
    monkeypatch.undo()
    assert service.measure_quality().measured == 1
