"""The CLI shells, and a real registration process killed mid-run then resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from PIL import Image as PILImage
from sqlalchemy import func, select

from lorairo.cli.main import main
from lorairo.database.engine import Database
from lorairo.database.schema import Image, ProcessedImage
from tests.factories import make_image_file


def _run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    main(["--json", *args])
    out = capsys.readouterr().out
    result = json.loads(out)
    assert isinstance(result, dict)
    return result


def test_cli_register_duplicates_process_and_rejections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "src"
    original = make_image_file(source / "orig.png", (640, 480), seed=9)
    with PILImage.open(original) as image:
        image.save(source / "variant.jpg", quality=60)
    (source / "broken.png").write_bytes(b"")

    report = _run_cli(["images", "register", str(source), "-p", "cli"], capsys)
    assert report["registered"] == 2
    assert report["failed"] == [
        {"path": str((source / "broken.png").resolve()), "reason": "empty file", "message": "empty file"}
    ]
    for key in (
        "duplicates",
        "near_duplicates",
        "skipped_existing",
        "sidecars_imported",
        "ignored_non_images",
        "seconds",
    ):
        assert key in report

    groups = _run_cli(["images", "duplicates", "-p", "cli"], capsys)["groups"]
    assert isinstance(groups, list) and len(groups) == 1
    assert {Path(image["file_path"]).name for image in groups[0]["images"]} == {"orig.png", "variant.jpg"}

    processed = _run_cli(["images", "process", "--resolution", "256", "-p", "cli"], capsys)
    assert processed["processed"] == 2

    rejections = _run_cli(["images", "rejections", "-p", "cli"], capsys)
    assert rejections["total"] == 1

    again = _run_cli(["images", "register", str(source), "-p", "cli"], capsys)
    assert (again["registered"], again["skipped_existing"]) == (0, 2)


def test_cli_rejects_a_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--json", "images", "register", str(tmp_path / "nowhere"), "-p", "cli"])
    assert exit_info.value.code == 2
    assert json.loads(capsys.readouterr().out)["error"]["type"] == "ValidationError"


def test_a_failed_register_leaves_no_new_empty_project(
    tmp_path: Path, isolated_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--json", "images", "register", str(tmp_path / "nonexistent"), "-p", "brandnew"])
    assert exit_info.value.code == 2
    assert not (isolated_environment / "projects" / "brandnew").exists()
    assert "nonexistent" in json.loads(capsys.readouterr().out)["error"]["message"]
    # An existing project is never removed by a failed run.
    make_image_file(tmp_path / "one" / "a.png", (64, 64))
    _run_cli(["images", "register", str(tmp_path / "one"), "-p", "kept"], capsys)
    with pytest.raises(SystemExit):
        main(["--json", "images", "register", str(tmp_path / "nonexistent"), "-p", "kept"])
    assert (isolated_environment / "projects" / "kept" / "database.db").is_file()


# Enough that a loaded machine cannot finish the run between the test seeing the first batches and
# its signal landing (CI, at load 7, once finished all 120 of an earlier version first).
PHOTOS = 480
_SIZES = [(384, 288), (288, 384), (320, 320), (512, 200), (150, 400)]


def _photos(folder: Path) -> Path:
    for seed in range(PHOTOS):
        make_image_file(folder / f"img{seed:03}.jpg", _SIZES[seed % len(_SIZES)], seed=seed, fmt="JPEG")
    return folder


def _register_in_background(source: Path, name: str, workers: int = 2) -> subprocess.Popen[str]:
    env = {**os.environ, "LORAIRO_BATCH_SIZE": "4", "LORAIRO_MAX_WORKERS": str(workers)}
    command = [sys.executable, "-m", "lorairo", "--json", "images", "register", str(source), "-p", name]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def _wait_for_images(child: subprocess.Popen[str], database: Path, count: int) -> None:
    deadline = time.monotonic() + 240
    while _count_images(database) < count:
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline, "registration never committed a batch"
        time.sleep(0.02)


@pytest.mark.slow
def test_ctrl_c_cancels_cleanly_and_reports_cancelled(tmp_path: Path, isolated_environment: Path) -> None:
    source = _photos(tmp_path / "src")
    child = _register_in_background(source, "ctrlc")
    _wait_for_images(child, isolated_environment / "projects" / "ctrlc" / "database.db", 8)
    os.killpg(child.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    report = json.loads(out)
    assert report["cancelled"] is True
    assert 8 <= report["registered"] < PHOTOS and not report["failed"]
    assert _count_images(isolated_environment / "projects" / "ctrlc" / "database.db") == report["registered"]


@pytest.mark.slow
def test_pool_workers_die_with_a_killed_parent(tmp_path: Path, isolated_environment: Path) -> None:
    source = _photos(tmp_path / "src")
    child = _register_in_background(source, "orphans")
    _wait_for_images(child, isolated_environment / "projects" / "orphans" / "database.db", 4)
    workers = psutil.Process(child.pid).children(recursive=True)
    assert workers
    os.kill(child.pid, signal.SIGKILL)  # the parent only: its workers are left to notice
    child.wait()
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, f"workers outlived their parent: {[p.pid for p in alive]}"


def _count_images(database_path: Path) -> int:
    if not database_path.exists():
        return 0
    database = Database(database_path, migrate=False)
    try:
        with database.read_session() as session:
            return session.scalar(select(func.count()).select_from(Image)) or 0
    except Exception:  # the schema may not exist yet while the child creates it
        return 0
    finally:
        database.close()


@pytest.mark.slow
def test_killed_run_then_rerun_registers_every_image_exactly_once(
    tmp_path: Path, isolated_environment: Path
) -> None:
    source = tmp_path / "src"
    total = 150
    for seed in range(total):
        make_image_file(source / f"batch{seed % 5}" / f"img{seed:03}.jpg", (384, 288), seed=seed, fmt="JPEG")
    env = {**os.environ, "LORAIRO_BATCH_SIZE": "4", "LORAIRO_MAX_WORKERS": "2"}
    command = [sys.executable, "-m", "lorairo", "--json", "images", "register", str(source), "-p", "kill"]
    project_root = isolated_environment / "projects" / "kill"

    child = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 240
    while _count_images(project_root / "database.db") < 8:
        assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
        assert time.monotonic() < deadline, "registration never committed a batch"
        time.sleep(0.02)
    os.killpg(child.pid, signal.SIGKILL)  # the whole group: the CLI and its pool workers
    child.wait()
    killed_at = _count_images(project_root / "database.db")
    assert killed_at < total, "the run finished before it could be killed"

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=True)
    report = json.loads(rerun.stdout)

    assert report["registered"] + report["skipped_existing"] == total
    assert report["skipped_existing"] >= killed_at and not report["failed"] and not report["duplicates"]
    database = Database(project_root / "database.db")
    try:
        with database.read_session() as session:
            rows = session.execute(
                select(Image.file_path, Image.sha256, Image.stored_path, Image.thumbnail_path)
            ).all()
            processed = session.scalars(select(ProcessedImage.path)).all()
    finally:
        database.close()
    assert len(rows) == total
    assert len({row.file_path for row in rows}) == total and len({row.sha256 for row in rows}) == total
    originals = {
        str(p.relative_to(project_root))
        for p in (project_root / "images" / "originals").rglob("*")
        if p.is_file()
    }
    thumbnails = {
        str(p.relative_to(project_root))
        for p in (project_root / "images" / "thumbnails").rglob("*")
        if p.is_file()
    }
    copies = {
        str(p.relative_to(project_root))
        for p in (project_root / "images" / "processed").rglob("*")
        if p.is_file()
    }
    assert originals == {row.stored_path for row in rows}  # no orphan, none missing
    assert thumbnails == {row.thumbnail_path for row in rows}
    assert copies == set(processed) and len(processed) == total
    staging = project_root / "images" / ".staging"
    assert not staging.exists() or not any(staging.iterdir())
