"""The `hf` export is loaded by the real `datasets` imagefolder builder, offline."""

from __future__ import annotations

from pathlib import Path

import datasets

from lorairo.export.options import ExportOptions
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.export_service import ExportService
from tests.export.builders import Demo


def test_hf_export_loads_as_imagefolder(demo: Demo, config: ConfigurationService, tmp_path: Path) -> None:
    target = tmp_path / "hf"
    ExportService(demo.builder.project, config).export(
        ExportOptions(target=target, formats=("hf", "kohya", "kohya-json", "jsonl"), dataset_toml=True)
    )
    loaded = datasets.load_dataset("imagefolder", data_dir=str(target), cache_dir=str(tmp_path / "hf-cache"))
    train = loaded["train"]
    assert set(train.column_names) == {"image", "tags", "caption", "score", "rating"}
    assert train.num_rows == 2
    rows = sorted(train, key=lambda row: row["tags"])
    assert rows[0]["tags"] == "1boy, outdoors"
    assert rows[0]["caption"] is None and rows[0]["score"] is None and rows[0]["rating"] is None
    assert rows[1]["tags"].startswith("blue eyes, 1girl")
    assert rows[1]["caption"] == "a woman singing on stage"
    assert rows[1]["score"] == 9.0 and rows[1]["rating"] == "general"
    assert rows[1]["image"].size == (64, 48)
