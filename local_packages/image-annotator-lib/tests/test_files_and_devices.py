"""External weights installed beside the model, and which execution provider runs it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image
from real_signatures import build_linear_tagger, populate_hub_cache, write_wd_csv

from image_annotator_lib.core.base import ModelSpec
from image_annotator_lib.exceptions import ModelLoadError
from image_annotator_lib.local.session_cache import execution_providers
from image_annotator_lib.local.wd_tagger import WDTagger
from image_annotator_lib.registry import ModelRegistry

WEIGHTS = np.random.default_rng(5).normal(0, 0.02, (3, 4)).astype(np.float32)
TAGS = [("a", 0), ("b", 0), ("c", 4), ("general", 9)]


def external_model(folder: Path) -> Path:
    build_linear_tagger(
        folder / "model.onnx", WEIGHTS, np.zeros(4, np.float32), external_data="model.onnx.data"
    )
    write_wd_csv(folder / "selected_tags.csv", TAGS)
    assert (folder / "model.onnx.data").stat().st_size >= WEIGHTS.nbytes
    return folder


def config_for(tmp_path: Path, extra_files: bool = True) -> Path:
    config = tmp_path / "annotator_config.toml"
    lines = '[cl-like]\nclass = "WDTagger"\nmodel_path = "someone/external-tagger"\n'
    config.write_text(
        lines + ('extra_files = ["model.onnx.data"]\n' if extra_files else ""), encoding="utf-8"
    )
    return config


def test_external_data_model_loads_after_install_from_the_hub_cache(tmp_path: Path) -> None:
    cache = Path(os.environ["HF_HOME"]) / "hub"
    populate_hub_cache(cache, "someone/external-tagger", external_model(tmp_path / "src"))
    registry = ModelRegistry(config_path=config_for(tmp_path))
    info = registry.install("cl-like")
    assert info.installed is True
    assert info.size_bytes is not None and info.size_bytes >= WEIGHTS.nbytes
    annotator = registry.get("cl-like")
    annotator.load()
    assert annotator.files["extra:model.onnx.data"].name == "model.onnx.data"  # type: ignore[attr-defined]
    [result] = annotator.annotate_batch([Image.new("RGB", (20, 12), (10, 20, 30))])
    assert result.ok and result.rating == "general"


def test_missing_external_data_is_named_at_install(tmp_path: Path) -> None:
    source = external_model(tmp_path / "src")
    (source / "model.onnx.data").unlink()
    populate_hub_cache(Path(os.environ["HF_HOME"]) / "hub", "someone/external-tagger", source)
    registry = ModelRegistry(config_path=config_for(tmp_path))
    assert registry.info("cl-like").installed is False
    with pytest.raises(ModelLoadError, match=r"model\.onnx\.data"):
        registry.install("cl-like")


def test_auto_never_picks_coreml_and_reports_the_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offered = ["CoreMLExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: offered)
    assert execution_providers("auto") == ["CPUExecutionProvider"]
    assert execution_providers("coreml") == ["CoreMLExecutionProvider", "CPUExecutionProvider"]
    offered[:] = ["DmlExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert execution_providers("auto") == [
        "CUDAExecutionProvider",
        "DmlExecutionProvider",
        "CPUExecutionProvider",
    ]


def test_the_provider_actually_used_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    build_linear_tagger(folder / "model.onnx", WEIGHTS, np.zeros(4, np.float32))
    write_wd_csv(folder / "selected_tags.csv", TAGS)
    tagger = WDTagger(ModelSpec("t", "WDTagger", str(folder), options={"device": "auto"}))
    assert tagger.execution_provider is None
    tagger.load()
    assert tagger.execution_provider == "CPUExecutionProvider"


def test_io_binding_path_gives_the_plain_run_results(tmp_path: Path) -> None:
    """The binding path GPUs take, forced on CPU: same numbers, fixed batch chunks included."""
    folder = tmp_path / "m"
    build_linear_tagger(folder / "model.onnx", WEIGHTS * 50, np.zeros(4, np.float32), batch=2)
    write_wd_csv(folder / "selected_tags.csv", TAGS)
    images = [Image.new("RGB", (16, 16), (i * 40, 255 - i * 30, 90)) for i in range(5)]
    spec = {"storage_floor": 0.0}
    plain = WDTagger(ModelSpec("p", "WDTagger", str(folder), options={**spec, "io_binding": False}))
    bound = WDTagger(ModelSpec("b", "WDTagger", str(folder), options={**spec, "io_binding": True}))
    for a, b in zip(plain.annotate_batch(images), bound.annotate_batch(images), strict=True):
        assert [(t.name, t.confidence) for t in a.tags] == [(t.name, t.confidence) for t in b.tags]
