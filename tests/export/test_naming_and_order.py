"""File-name safety and frequency ordering."""

from __future__ import annotations

from pathlib import Path

from lorairo.export.naming import NameAllocator, safe_stem
from lorairo.export.options import ExportOptions
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.export_service import ExportService
from tests.export.builders import Builder


def test_safe_stem_is_portable() -> None:
    assert safe_stem("folder/b\\c:d*e?.jpg") == "b_c_d_e_"
    assert safe_stem("CON.png") == "CON_"
    assert safe_stem("...hidden.png") == "hidden"
    assert safe_stem("") == "image"
    assert safe_stem("...") == "image"
    assert len(safe_stem("é" * 300 + ".jpg").encode()) <= 150


def test_allocator_is_case_insensitive_and_never_reuses() -> None:
    names = NameAllocator("stem")
    stems = [names.allocate(i, name) for i, name in enumerate(["a.jpg", "A.png", "a_2.jpg", "a.webp"])]
    assert stems == ["a", "A_2", "a_2_2", "a_3"]
    assert len({stem.casefold() for stem in stems}) == 4


def test_frequency_order(builder: Builder, config: ConfigurationService, tmp_path: Path) -> None:
    first = builder.image("x", "one.png", seed=1)
    for index in range(3):
        other = builder.image("x", f"other{index}.png", seed=10 + index)
        builder.tag(other, "common", model="wd", confidence=0.4)
    builder.tag(first, "rare", model="wd", confidence=0.99)
    builder.tag(first, "common", model="wd", confidence=0.5)
    service = ExportService(builder.project, config)
    options = ExportOptions(order="frequency", ids=(first,))
    assert service.preview(first, options).text == "common, rare"
    assert service.preview(first, ExportOptions(ids=(first,))).text == "rare, common"
