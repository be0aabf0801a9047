"""Reading the non-destructive crop rectangles (written through the edit log, `plan_crop`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from lorairo.database.schema import ImageCrop


def load_crops(session: Session, ids: Sequence[int]) -> dict[int, tuple[int, int, int, int]]:
    """`{image_id: (x, y, width, height)}` for the ids that have a crop."""
    if not ids:
        return {}
    rows = session.execute(
        select(ImageCrop.image_id, ImageCrop.x, ImageCrop.y, ImageCrop.width, ImageCrop.height).where(
            ImageCrop.image_id.in_(list(ids))
        )
    )
    return {image_id: (x, y, width, height) for image_id, x, y, width, height in rows}
