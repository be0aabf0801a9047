from __future__ import annotations

from pathlib import Path

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
