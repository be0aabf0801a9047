"""Builders for a small real export project: image files, a database and annotation rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from lorairo.database.schema import Caption, Model, ProcessedImage, Rating, Score, Tag
from lorairo.services.project_service import Project
from tests.factories import add_image_row, make_image_file

T0 = datetime(2026, 1, 1, 12, 0, 0)


@dataclass
class Builder:
    project: Project
    models: dict[str, int] = field(default_factory=dict)

    def image(self, folder: str, name: str, *, seed: int, size: tuple[int, int] = (64, 48)) -> int:
        """Store a real image under images/<folder>/ with its original file name `name`."""
        relative = Path("images") / folder / name
        path = make_image_file(self.project.root / relative, size, seed=seed)
        return add_image_row(
            self.project.database,
            path,
            stored_path=relative.as_posix(),
            file_path=f"/photos/{folder}/{name}",
            name=name,
        )

    def model(self, name: str) -> int:
        if name not in self.models:
            with self.project.database.write_session() as session:
                row = Model(name=name, provider="local", type="tagger")
                session.add(row)
                session.flush()
                self.models[name] = row.id
        return self.models[name]

    def tag(
        self,
        image_id: int,
        tag: str,
        *,
        model: str | None = None,
        confidence: float | None = None,
        category: str = "general",
        manual: bool = False,
        accepted: bool = True,
        rejected: bool = False,
        source: str | None = None,
    ) -> None:
        with self.project.database.write_session() as session:
            session.add(
                Tag(
                    image_id=image_id,
                    model_id=self.model(model) if model else None,
                    source=source or ("manual" if manual else "model"),
                    tag=tag,
                    raw_tag=tag,
                    category=category,
                    confidence=confidence,
                    is_accepted=accepted,
                    rejected_at=T0 if rejected else None,
                )
            )

    def caption(self, image_id: int, text: str, *, model: str | None = None, minutes: int = 0) -> None:
        with self.project.database.write_session() as session:
            session.add(
                Caption(
                    image_id=image_id,
                    model_id=self.model(model) if model else None,
                    source="model" if model else "manual",
                    caption=text,
                    created_at=T0 + timedelta(minutes=minutes),
                    updated_at=T0 + timedelta(minutes=minutes),
                )
            )

    def score(self, image_id: int, value: float, *, scale_max: float = 10.0) -> None:
        with self.project.database.write_session() as session:
            session.add(
                Score(image_id=image_id, model_id=None, score=value, scale_max=scale_max, created_at=T0)
            )

    def rating(self, image_id: int, rating: str, *, manual: bool = False, minutes: int = 0) -> None:
        with self.project.database.write_session() as session:
            session.add(
                Rating(
                    image_id=image_id,
                    source="manual" if manual else "model",
                    rating=rating,
                    created_at=T0 + timedelta(minutes=minutes),
                )
            )

    def processed(self, image_id: int, resolution: int, size: tuple[int, int], *, seed: int) -> Path:
        relative = Path("processed") / str(resolution) / f"{image_id}.png"
        path = make_image_file(self.project.root / relative, size, seed=seed)
        with self.project.database.write_session() as session:
            session.add(
                ProcessedImage(
                    image_id=image_id,
                    resolution=resolution,
                    path=relative.as_posix(),
                    width=size[0],
                    height=size[1],
                )
            )
        return path


@dataclass
class Demo:
    builder: Builder
    first: int
    second: int
    untagged: int


def make_demo(builder: Builder) -> Demo:
    """Two images named 001.jpg from different folders plus one with no tags.

    First image: wd-tagger tags with confidences, a rejected tag, a tag the user rejected
    manually, a manual addition, a character tag, a meta tag, and a model plus a manual caption.
    """
    first = builder.image("set_a", "001.jpg", seed=1)
    second = builder.image("set_b", "001.jpg", seed=2)
    untagged = builder.image("set_b", "002.jpg", seed=3)
    b = builder
    b.tag(first, "1girl", model="wd-tagger", confidence=0.99)
    b.tag(first, "long hair", model="wd-tagger", confidence=0.8)
    b.tag(first, "hatsune miku", model="wd-tagger", confidence=0.9, category="character")
    b.tag(first, "open mouth", model="wd-tagger", confidence=0.4)
    b.tag(first, "blurry", model="wd-tagger", confidence=0.7, rejected=True)
    b.tag(first, "smile", model="wd-tagger", confidence=0.95)
    b.tag(first, "smile", manual=True, rejected=True)
    b.tag(first, "blue eyes", manual=True)
    b.tag(first, "highres", model="wd-tagger", confidence=0.6, category="meta")
    b.tag(first, "hat (object)", model="other-tagger", confidence=0.7)
    b.caption(first, "a girl with long hair", model="florence", minutes=10)
    b.caption(first, "a woman singing on stage", minutes=0)
    b.score(first, 9.0)
    b.rating(first, "general")
    b.tag(second, "1boy", model="wd-tagger", confidence=0.97)
    b.tag(second, "outdoors", model="other-tagger", confidence=0.6)
    return Demo(builder, first, second, untagged)


def write_varied(path: Path, kind: str, size: tuple[int, int], seed: int) -> tuple[int, int, str, bool]:
    """Write one of the shapes trainers misread; returns the upright size, mode and alpha flag.

    `rotated` is a JPEG stored sideways with EXIF orientation 6, `deep` a 16-bit gray PNG with
    values above 255, `rgba` a PNG with a transparent half, `gif` a palette GIF with a transparent
    colour, `webp` an RGB WebP; `jpeg` is an already training-safe JPEG.
    """
    width, height = size
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "deep":
        ramp = np.linspace(0, 65535, width * height, dtype=np.float64).reshape(height, width)
        PILImage.fromarray(ramp.astype(np.uint16)).save(path, format="PNG")
        return width, height, "I;16", False
    pixels = np.kron(
        rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8),
        np.ones((height // 4 + 1, width // 4 + 1, 1), dtype=np.uint8),
    )[:height, :width]
    image = PILImage.fromarray(pixels, "RGB")
    if kind == "rotated":
        exif = PILImage.Exif()
        exif[0x0112] = 6
        image.save(path, format="JPEG", quality=95, exif=exif.tobytes())
        return height, width, "RGB", False
    if kind == "rgba":
        alpha = np.zeros((height, width), dtype=np.uint8)
        alpha[:, : width // 2] = 255
        rgba = image.convert("RGBA")
        rgba.putalpha(PILImage.fromarray(alpha))
        rgba.save(path, format="PNG")
        return width, height, "RGBA", True
    if kind == "gif":
        palette = image.convert("P", palette=PILImage.Palette.ADAPTIVE, colors=16)
        palette.save(path, format="GIF", transparency=0)
        return width, height, "P", True
    fmt = {"webp": "WEBP", "jpeg": "JPEG"}[kind]
    image.save(path, format=fmt, quality=90)
    return width, height, "RGB", False


def add_varied(builder: Builder, folder: str, name: str, kind: str, size: tuple[int, int], seed: int) -> int:
    relative = Path("images") / folder / name
    width, height, mode, alpha = write_varied(builder.project.root / relative, kind, size, seed)
    return add_image_row(
        builder.project.database,
        builder.project.root / relative,
        stored_path=relative.as_posix(),
        file_path=f"/photos/{folder}/{name}",
        name=name,
        width=width,
        height=height,
        mode=mode,
        has_alpha=alpha,
    )
