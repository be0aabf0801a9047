"""A project for distributed-annotation tests and the worker benchmark: many tiny images of
varied sizes, aspect ratios, modes and formats, the tiny colour tagger, and worker processes
started the way a user starts them (`lorairo worker ...` in a fresh interpreter)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image as PILImage

from lorairo.database.schema import Image
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import Project, ProjectService
from tests.annotation.onnx_builders import build_colour_tagger
from tests.factories import make_image_file

MODEL = "colour-tagger"
# (mode, format): what users register, including palette, grey and alpha images.
KINDS = [("RGB", "JPEG"), ("RGBA", "PNG"), ("L", "PNG"), ("P", "PNG"), ("RGB", "WEBP"), ("RGB", "PNG")]

# A worker in a child interpreter; an audit hook logs each image file it opens (and may sleep
# there, to make a batch slow enough to be killed in the middle of).
CHILD = """
import sys, time
from pathlib import Path
log, images, delay = open(sys.argv[1], "a", buffering=1), sys.argv[2], float(sys.argv[3])
def hook(event, args):
    if event == "open" and isinstance(args[0], str) and args[0].startswith(images):
        log.write(Path(args[0]).name + "\\n")
        if delay:
            time.sleep(delay)
sys.addaudithook(hook)
from lorairo.cli.main import main
main(sys.argv[4:])
"""


def register_colour_tagger(config: ConfigurationService, folder: Path) -> None:
    model = build_colour_tagger(folder)
    config.annotator_config_path.parent.mkdir(parents=True, exist_ok=True)
    config.annotator_config_path.write_text(
        f'[{MODEL}]\nclass = "WDTagger"\nmodel_path = "{model.as_posix()}"\n', encoding="utf-8"
    )


def fill_project(project: Project, count: int) -> list[int]:
    """`count` tiny images (4 to 61 px a side, ratios up to 1:8), rows inserted in one
    transaction; returns their ids."""
    rows = []
    for index in range(count):
        mode, fmt = KINDS[index % len(KINDS)]
        width = 4 + (index * 7) % 58
        height = max(4, min(61, width * (1 + index % 8) // (1 + (index // 8) % 8)))
        suffix = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[fmt]
        path = project.images_dir / f"img{index:05}.{suffix}"
        make_image_file(path, (width, height), seed=index, mode=mode, fmt=fmt)
        data = path.read_bytes()
        with PILImage.open(path) as image:
            real_mode = image.mode
        digest = hashlib.sha256(data).digest()
        rows.append(
            Image(
                file_path=str(path),
                stored_path=path.relative_to(project.root).as_posix(),
                name=path.name,
                file_size=len(data),
                width=width,
                height=height,
                format=fmt,
                mode=real_mode,
                has_alpha="A" in real_mode,
                sha256=digest.hex(),
                phash=int.from_bytes(digest[:8], "big", signed=True),
            )
        )
    with project.database.write_session() as session:
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def make_farm(tmp_path: Path, name: str, count: int) -> tuple[ConfigurationService, Project]:
    config = ConfigurationService()
    register_colour_tagger(config, tmp_path / "models" / "colour")
    project = ProjectService(config).create(name)
    fill_project(project, count)
    return config, project


def start_worker(
    tmp_path: Path,
    project: Project,
    label: str,
    *worker_args: str,
    delay: float = 0.0,
) -> tuple[subprocess.Popen[str], Path]:
    """`lorairo --json worker -p NAME -m colour-tagger ARGS` in a child; returns it and its open log."""
    script = tmp_path / "worker_child.py"
    script.write_text(CHILD, encoding="utf-8")
    log = tmp_path / f"opens-{label}.log"
    env = {**os.environ, "LORAIRO_MAX_WORKERS": "1", "OMP_NUM_THREADS": "1"}
    args = ["--json", "worker", "-p", project.name, "-m", MODEL, *worker_args]
    child = subprocess.Popen(
        [sys.executable, str(script), str(log), str(project.images_dir), str(delay), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return child, log
