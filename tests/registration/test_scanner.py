from __future__ import annotations

import os
from pathlib import Path

import pytest

from lorairo.registration.scanner import ScanStats, scan
from tests.factories import make_image_file


def test_scan_recurses_handles_odd_names_and_counts_non_images(tmp_path: Path) -> None:
    root = tmp_path / "pile"
    make_image_file(root / "a.PNG")
    make_image_file(root / "deep" / "nested" / "写真 with spaces.JPEG", fmt="JPEG")
    (root / "a.txt").write_text("tag", encoding="utf-8")  # sidecar of a.PNG: not "ignored"
    (root / "readme.md").write_text("x", encoding="utf-8")
    (root / "orphan.txt").write_text("x", encoding="utf-8")
    stats = ScanStats()
    found = list(scan([root], stats))
    assert [path.name for path in found] == ["a.PNG", "写真 with spaces.JPEG"]
    assert stats.ignored_non_images == 2


def test_scan_survives_symlink_loops(tmp_path: Path) -> None:
    root = tmp_path / "loop"
    make_image_file(root / "sub" / "x.png")
    (root / "sub" / "back").symlink_to(root)
    found = list(scan([root, root / "sub"]))
    assert [path.name for path in found] == ["x.png"]


def test_scan_never_leaves_the_given_paths_unless_asked(tmp_path: Path) -> None:
    root = tmp_path / "mine" / "a"
    make_image_file(root / "own.png")
    make_image_file(tmp_path / "elsewhere" / "theirs.png")
    (root / "up").symlink_to(tmp_path)  # `a/up -> ../..`
    (root / "inner").symlink_to(root / "sub")
    make_image_file(root / "sub" / "deep.png")

    stats = ScanStats()
    found = [path.name for path in scan([root], stats)]
    assert found == ["own.png", "deep.png"]  # the inner link is the same folder: listed once
    assert stats.skipped_links == [str(root / "up")]

    followed = [path.name for path in scan([root], follow_links=True)]
    assert "theirs.png" in followed


def test_scan_never_enters_an_excluded_folder(tmp_path: Path) -> None:
    make_image_file(tmp_path / "photos" / "keep.png")
    make_image_file(tmp_path / "projects" / "p" / "images" / "thumb.png")
    (tmp_path / "photos" / "link").symlink_to(tmp_path / "projects")
    found = list(scan([tmp_path], excluded=[tmp_path / "projects" / "p"], follow_links=True))
    assert [path.name for path in found] == ["keep.png"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder whatever its mode")
def test_an_unreadable_folder_is_reported_with_its_path(tmp_path: Path) -> None:
    make_image_file(tmp_path / "ok" / "a.png")
    locked = tmp_path / "locked"
    make_image_file(locked / "b.png")
    locked.chmod(0)
    try:
        stats = ScanStats()
        assert [path.name for path in scan([tmp_path], stats)] == ["a.png"]
        assert [folder for folder, _ in stats.unreadable_folders] == [str(locked)]
    finally:
        locked.chmod(0o755)


def test_a_folder_that_cannot_be_read_when_reached_is_reported(tmp_path: Path) -> None:
    """Runs as root too (where mode 000 reads fine): the folder vanishes between listing and visit."""
    make_image_file(tmp_path / "first.png")
    make_image_file(tmp_path / "gone" / "b.png")
    stats = ScanStats()
    walk = scan([tmp_path], stats)
    assert next(walk).name == "first.png"  # the root's listing, `gone` included, is taken by now
    (tmp_path / "gone" / "b.png").unlink()
    (tmp_path / "gone").rmdir()
    assert list(walk) == []
    assert [folder for folder, _ in stats.unreadable_folders] == [str(tmp_path / "gone")]
