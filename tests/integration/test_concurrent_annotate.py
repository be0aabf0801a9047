"""Two `annotate run`s on one project and model share the images instead of both doing them all.

The witness is outside the code under test: an audit hook in each child process records every
image file the process opens (annotation decodes each image it annotates exactly once), so an
image annotated by both runs shows up in both logs whatever the database says. The hook also
slows each decode a little, so the two runs are sure to overlap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lorairo.database.schema import ModelAnnotation, WorkItem, WorkItemImage
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import ProjectService
from tests.annotation.helpers import BLUE, RED, add_solid_image
from tests.annotation.onnx_builders import build_colour_tagger

IMAGES = 60

# Runs the real CLI after every child is ready (imports done), logging image opens.
CHILD = """
import os, sys, time
from pathlib import Path
log = open(sys.argv[1], "a", buffering=1)
images = sys.argv[2]
def hook(event, args):
    if event == "open" and isinstance(args[0], str) and args[0].startswith(images):
        log.write(Path(args[0]).name + "\\n")
        time.sleep(0.02)
sys.addaudithook(hook)
from lorairo.cli.main import main
go = Path(sys.argv[3])
while not go.exists():
    time.sleep(0.01)
main(sys.argv[4:])
"""


@pytest.mark.slow
def test_two_runs_annotate_each_image_once(tmp_path: Path, isolated_environment: Path) -> None:
    config = ConfigurationService()
    model = build_colour_tagger(tmp_path / "models" / "colour")
    config.annotator_config_path.write_text(
        f'[colour-tagger]\nclass = "WDTagger"\nmodel_path = "{model.as_posix()}"\n', encoding="utf-8"
    )
    project = ProjectService(config).create("shared")
    for i in range(IMAGES):
        add_solid_image(project, f"img{i:03}.png", RED if i % 2 else BLUE)
    images_dir = str(project.images_dir)
    project.close()

    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    go = tmp_path / "go"
    env = {**os.environ, "LORAIRO_MAX_WORKERS": "1"}
    args = ["--json", "annotate", "run", "-m", "colour-tagger", "-p", "shared", "--batch-size", "2"]
    logs = [tmp_path / f"opens{n}.log" for n in range(2)]
    children = [
        subprocess.Popen(
            [sys.executable, str(script), str(log), images_dir, str(go), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for log in logs
    ]
    time.sleep(0.5)
    go.touch()
    reports = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        reports.append(json.loads(out))

    opened = [Counter(log.read_text().split()) if log.exists() else Counter() for log in logs]
    total = opened[0] + opened[1]
    assert len(total) == IMAGES and set(total.values()) == {1}, "an image was annotated by both runs"
    assert all(opened), "one run did everything: the runs did not overlap, so nothing was shared"
    assert [r["images_annotated"] for r in reports] == [sum(c.values()) for c in opened]
    assert sum(r["claimed_by_other_runs"] for r in reports) > 0

    reopened = ProjectService(ConfigurationService()).open("shared")
    try:
        with reopened.database.read_session() as session:
            assert session.scalar(select(func.count()).select_from(ModelAnnotation)) == IMAGES
            for table in (WorkItem, WorkItemImage):  # all released: the runs' own items are gone
                assert session.scalar(select(func.count()).select_from(table)) == 0
    finally:
        reopened.close()
