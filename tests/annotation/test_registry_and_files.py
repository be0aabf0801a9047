"""Registry entries, model files from folders and from a pre-populated HF cache, session reuse."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from image_annotator_lib.core.base import ModelSpec
from image_annotator_lib.exceptions import ModelLoadError, ModelNotFoundError
from image_annotator_lib.local.session_cache import SessionCache, execution_providers
from image_annotator_lib.local.wd_tagger import WDTagger
from image_annotator_lib.model_files import resolve_model_files
from image_annotator_lib.registry import AnnotatorConfigError, ModelRegistry
from tests.annotation.onnx_builders import build_colour_tagger

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def populate_hub_cache(cache: Path, repo_id: str, source: Path) -> None:
    """Lay files out exactly as huggingface_hub stores a downloaded snapshot."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    for file in source.iterdir():
        (snapshot / file.name).write_bytes(file.read_bytes())


def test_builtins_are_smilingwolf_repos() -> None:
    registry = ModelRegistry()
    assert registry.spec("wd-vit-tagger-v3").model_path == "SmilingWolf/wd-vit-tagger-v3"
    assert registry.spec("wd-eva02-large-tagger-v3").class_name == "WDTagger"
    assert "wd-v1-4-moat-tagger-v2" in registry.names()
    with pytest.raises(ModelNotFoundError):
        registry.spec("no-such-model")


def test_config_adds_entries_and_overrides_only_what_it_sets(tmp_path: Path) -> None:
    folder = build_colour_tagger(tmp_path / "mine")
    config = tmp_path / "annotator_config.toml"
    config.write_text(
        f'[my-tagger]\nclass = "WDTagger"\nmodel_path = "{folder.as_posix()}"\ngeneral_threshold = 0.2\n\n'
        "[wd-vit-tagger-v3]\ncharacter_threshold = 0.7\n",
        encoding="utf-8",
    )
    registry = ModelRegistry(config_path=config, default_options={"general_threshold": 0.5, "device": "cpu"})
    overridden = registry.spec("wd-vit-tagger-v3")
    assert overridden.model_path == "SmilingWolf/wd-vit-tagger-v3"
    assert overridden.options == {"character_threshold": 0.7}
    mine = registry.create("my-tagger")
    assert mine.spec.options["general_threshold"] == 0.2  # the model's own option wins
    assert mine.spec.options["device"] == "cpu"  # the app default fills the rest
    info = registry.info("my-tagger")
    assert (info.kind, info.is_api, info.installed) == ("tagger", False, True)
    assert info.size_bytes == sum(p.stat().st_size for p in folder.iterdir())


def test_unknown_class_and_bad_toml_are_config_errors(tmp_path: Path) -> None:
    config = tmp_path / "annotator_config.toml"
    config.write_text('[x]\nclass = "Nope"\nmodel_path = "/m"\n', encoding="utf-8")
    with pytest.raises(AnnotatorConfigError, match="unknown annotator class"):
        ModelRegistry(config_path=config).create("x")
    config.write_text("[x\n", encoding="utf-8")
    with pytest.raises(AnnotatorConfigError, match="cannot read"):
        ModelRegistry(config_path=config)


def test_local_folder_missing_a_file_is_a_clear_error(tmp_path: Path) -> None:
    folder = build_colour_tagger(tmp_path / "m")
    (folder / "selected_tags.csv").unlink()
    with pytest.raises(ModelLoadError, match=r"lacks selected_tags\.csv"):
        resolve_model_files(str(folder), ["model.onnx", "selected_tags.csv"], model_name="m")
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_model_files(str(tmp_path / "gone"), ["model.onnx"], model_name="m")


def test_repo_id_loads_from_the_hub_cache_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = Path(os.environ["HF_HOME"]) / "hub"
    populate_hub_cache(cache, "SmilingWolf/wd-vit-tagger-v3", build_colour_tagger(tmp_path / "src"))
    registry = ModelRegistry()
    assert registry.info("wd-vit-tagger-v3").installed is True
    assert registry.info("wd-swinv2-tagger-v3").installed is False
    annotator = registry.get("wd-vit-tagger-v3")
    annotator.load()
    [result] = annotator.annotate_batch([Image.new("RGB", (16, 16), (255, 0, 0))])
    assert result.rating == "general"
    assert str(cache) in str(annotator.files["model"])  # type: ignore[attr-defined]


def test_offline_and_not_cached_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="lorairo models install wd-swinv2-tagger-v3"):
        ModelRegistry().get("wd-swinv2-tagger-v3").load()


def test_sessions_are_reused_and_released_least_recently_used(tmp_path: Path) -> None:
    first = build_colour_tagger(tmp_path / "a") / "model.onnx"
    second = build_colour_tagger(tmp_path / "b") / "model.onnx"
    cache = SessionCache(max_sessions=1)
    session = cache.get(first)
    assert cache.get(first) is session
    cache.get(second)
    assert (first, "auto") not in cache and (second, "auto") in cache
    assert cache.get(first) is not session  # rebuilt after eviction


def test_memory_budget_evicts_older_sessions(tmp_path: Path) -> None:
    first = build_colour_tagger(tmp_path / "a") / "model.onnx"
    second = build_colour_tagger(tmp_path / "b") / "model.onnx"
    cache = SessionCache(memory_budget_bytes=first.stat().st_size * 3)  # room for one session
    cache.get(first)
    cache.get(second)
    assert len(cache) == 1 and (second, "auto") in cache


def test_annotators_share_the_cached_session(tmp_path: Path) -> None:
    folder = build_colour_tagger(tmp_path)
    cache = SessionCache()
    one = WDTagger(ModelSpec("a", "WDTagger", str(folder)), cache)
    two = WDTagger(ModelSpec("b", "WDTagger", str(folder)), cache)
    one.load()
    two.load()
    assert len(cache) == 1


def test_threads_option_sets_intra_op_threads_and_keys_the_cache(tmp_path: Path) -> None:
    """A worker sharing its machine asks for fewer threads: a session of its own, not all cores."""
    folder = build_colour_tagger(tmp_path)
    cache = SessionCache()
    WDTagger(ModelSpec("one", "WDTagger", str(folder), options={"threads": 1}), cache).load()
    WDTagger(ModelSpec("all", "WDTagger", str(folder)), cache).load()
    assert len(cache) == 2
    model = folder / "model.onnx"
    assert cache.get(model, "auto", 1).get_session_options().intra_op_num_threads == 1
    assert cache.get(model).get_session_options().intra_op_num_threads == 0  # ORT: one per core
    assert len(cache) == 2
    for bad in (-1, "2", True):
        with pytest.raises(ModelLoadError, match="threads must be"):
            WDTagger(ModelSpec("bad", "WDTagger", str(folder), options={"threads": bad}), cache).load()


def test_device_choice() -> None:
    assert execution_providers("cpu") == ["CPUExecutionProvider"]
    assert execution_providers("auto")[-1] == "CPUExecutionProvider"
    with pytest.raises(ModelLoadError, match="unknown device"):
        execution_providers("tpu")
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(ModelLoadError, match="'cuda' requested"):
            execution_providers("cuda")
