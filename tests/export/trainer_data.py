"""A two-concept project of images trainers misread: one training concept, one regularisation."""

from __future__ import annotations

from dataclasses import dataclass

from lorairo.export.concepts import Concept
from tests.export.builders import Builder, add_varied

MIKU = Concept(name="miku", query="tag:hatsune_miku", repeats=10, class_tokens="ohwx girl", trigger=("ohwx",))
WOMEN = Concept(name="women", query="tag:woman", repeats=1, class_tokens="woman", is_reg=True)
CONCEPTS = (MIKU, WOMEN)


@dataclass
class TrainerData:
    builder: Builder
    ids: dict[str, int]


def make_trainer_data(builder: Builder) -> TrainerData:
    """miku: an EXIF-rotated JPEG (stored 60x40, upright 40x60), a 16-bit PNG and an RGBA PNG;
    women (regularisation): a transparent GIF, an odd-sized safe JPEG and an RGB WebP."""
    b = builder
    ids = {
        "m_rot": add_varied(b, "miku", "m_rot.jpg", "rotated", (60, 40), 1),
        "m_deep": add_varied(b, "miku", "m_deep.png", "deep", (37, 53), 2),
        "m_rgba": add_varied(b, "miku", "m_rgba.png", "rgba", (50, 30), 3),
        "w_gif": add_varied(b, "women", "w_gif.gif", "gif", (45, 45), 4),
        "w_odd": add_varied(b, "women", "w_odd.jpg", "jpeg", (33, 77), 5),
        "w_webp": add_varied(b, "women", "w_webp.webp", "webp", (70, 20), 6),
    }
    for name in ("m_rot", "m_deep", "m_rgba"):
        b.tag(ids[name], "hatsune miku", model="wd-tagger", confidence=0.9, category="character")
        b.tag(ids[name], "1girl", model="wd-tagger", confidence=0.99)
    b.tag(ids["m_rot"], "smile", model="wd-tagger", confidence=0.8)
    b.tag(ids["m_deep"], "solo", model="wd-tagger", confidence=0.7)
    b.caption(ids["m_rot"], "miku waving")
    for name in ("w_gif", "w_odd", "w_webp"):
        b.tag(ids[name], "woman", model="wd-tagger", confidence=0.95)
    b.tag(ids["w_gif"], "outdoors", model="wd-tagger", confidence=0.6)
    b.tag(ids["w_odd"], "indoors", model="wd-tagger", confidence=0.5)
    return TrainerData(b, ids)
