"""`lorairo export create/preview` through the real CLI entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.export.builders import Demo
from tests.export.cli_helpers import cli


def test_create_with_options(demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out"
    code, data = cli(
        capsys,
        "export",
        "create",
        "-p",
        "demo",
        "-o",
        str(target),
        "--format",
        "kohya,jsonl",
        "--format",
        "hf",
        "--trigger",
        "ohwx woman",
        "--threshold",
        "general=0.75",
        "--replace-tags",
        "1girl=1woman",
        "--exclude-tags",
        "highres",
        "--dataset-toml",
    )
    assert code == 0
    assert data["exported"] == 2 and data["formats"] == ["kohya", "jsonl", "hf"]
    assert data["skipped"] == {"no accepted tags": 1}
    assert (
        target / "train/001.txt"
    ).read_text() == "ohwx woman, blue eyes, 1woman, hatsune miku, long hair\n"
    assert {"train/metadata.jsonl", "kohya_metadata.jsonl", "dataset_config.toml"} <= {
        p.relative_to(target).as_posix() for p in target.rglob("*")
    }


def test_create_refuses_bad_input_with_exit_2(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, data = cli(capsys, "export", "create", "-p", "demo", "-o", str(tmp_path / "x"), "--format", "zip")
    assert code == 2 and "format" in data["error"]["message"]
    code, data = cli(
        capsys, "export", "create", "-p", "demo", "-o", str(tmp_path / "x"), "--threshold", "general"
    )
    assert code == 2
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a.txt").write_text("x")
    code, data = cli(capsys, "export", "create", "-p", "demo", "-o", str(tmp_path / "full"))
    assert code == 2 and "--overwrite" in data["error"]["message"]
    assert not (tmp_path / "x").exists()


def test_preview(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = cli(
        capsys, "export", "preview", str(demo.second), "-p", "demo", "--trigger", "sks", "--underscores"
    )
    assert code == 0
    assert data == {
        "image_id": demo.second,
        "extension": ".txt",
        "text": "sks, 1boy, outdoors",
        "caption": None,
        "skip_reason": None,
    }


def test_create_with_a_query(demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = cli(
        capsys, "export", "create", "tag:1girl", "-p", "demo", "-o", str(tmp_path / "q"), "--name", "id"
    )
    assert code == 0 and data["exported"] == 1
    assert (tmp_path / "q" / f"{demo.first}.txt").is_file()
