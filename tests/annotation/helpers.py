"""Project images with known colours, so expected tags follow from the tiny colour tagger's weights."""

from __future__ import annotations

import hashlib

from PIL import Image as PILImage

from lorairo.services.project_service import Project
from tests.factories import add_image_row

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def add_solid_image(
    project: Project, name: str, colour: tuple[int, int, int], size: tuple[int, int] = (24, 16)
) -> int:
    """A solid-colour PNG inside the project, registered with a path relative to the project root."""
    path = project.images_dir / name
    PILImage.new("RGB", size, colour).save(path)
    return add_image_row(
        project.database,
        path,
        stored_path=path.relative_to(project.root).as_posix(),
        sha256=hashlib.sha256(name.encode()).hexdigest(),
    )
