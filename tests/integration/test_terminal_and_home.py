"""Terminal output that fits 80 columns, plain text unless --json, and LORAIRO_HOME as one root."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from lorairo.cli.output import progress_bar, shorten_middle
from lorairo.cli.search_commands import count_line


def _draw(width: int) -> str:
    buffer = StringIO()
    console = Console(file=buffer, width=width, force_terminal=True, color_system=None)
    with progress_bar("Registering images", console=console) as update:
        for done in (0, 250, 500):
            update(done, 1000, "batch0/img_with_a_long_name_0001.jpg")
            time.sleep(0.06)
    return buffer.getvalue().replace("\r", "\n").splitlines()[-2]


@pytest.mark.parametrize("width", [60, 80, 99])
def test_narrow_progress_keeps_count_rate_and_eta_whole(width: int) -> None:
    line = _draw(width)
    assert len(line) <= width
    assert "500/1000" in line and re.search(r"\d+\.\d images/s", line) and re.search(r"\d:\d\d:\d\d", line)


def test_wide_progress_has_the_bar_and_message() -> None:
    line = _draw(160)
    assert "━" in line and "500/1000" in line and "img_with_a_long_name" in line


def test_names_shorten_in_the_middle() -> None:
    assert shorten_middle("wd-swinv2-tagger-v3", 40) == "wd-swinv2-tagger-v3"
    short = shorten_middle("a-very-long-provider/model-name-2025-preview-v3", 20)
    assert len(short) == 20 and short.startswith("a-very-lo") and short.endswith("preview-v3")


@pytest.mark.parametrize(
    ("total", "offset", "shown", "line"),
    [
        (0, 0, 0, "No matching images"),
        (1, 0, 1, "1-1 of 1 matching image"),
        (812, 50, 50, "51-100 of 812 matching images"),
        (3, 10, 0, "3 matching images; none after --offset 10"),
    ],
)
def test_count_line(total: int, offset: int, shown: int, line: str) -> None:
    assert count_line(total, offset, shown) == line


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lorairo", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.mark.slow
def test_lorairo_home_holds_everything_and_output_is_plain(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LORAIRO_", "HF_", "XDG_"))}
    env |= {"LORAIRO_HOME": str(home), "HF_HUB_OFFLINE": "1", "COLUMNS": "80"}

    shown = json.loads(_cli(env, "--json", "config", "show").stdout)
    assert all(Path(path).is_relative_to(home) for path in shown["paths"].values()), shown["paths"]
    assert (home / "lorairo.toml").is_file() and (home / "logs" / "lorairo.log").is_file()

    plain = _cli(env, "config", "show").stdout
    assert not plain.lstrip().startswith("{") and f"tag_db: {home / 'tag_db'}" in plain

    models = _cli(env, "annotate", "models").stdout
    assert max(len(line) for line in models.splitlines()) <= 80
    assert "wd-swinv2-tagger-v3" in models and "wd-convnext-tagger-v3" in models
