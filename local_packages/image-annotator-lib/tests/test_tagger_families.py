"""pixai, camie, Z3D, DeepDanbooru and cl_tagger shaped models tag correctly from their registry
entries alone: the test only points `model_path` at a folder, as a user with a local copy would."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from real_signatures import build_linear_tagger, expected_probabilities, write_camie_metadata, write_wd_csv

from image_annotator_lib.core.types import AnnotationResult
from image_annotator_lib.registry import ModelRegistry

RNG = np.random.default_rng(3)
COLOURS = [(230, 20, 40), (15, 200, 90), (40, 60, 250), (128, 128, 128)]
N = 9
WEIGHTS = RNG.normal(0, 3, (3, N)).astype(np.float32)
BIAS = RNG.normal(0, 0.5, N).astype(np.float32)


def registry_for(tmp_path: Path, entry: str, folder: Path, extra: str = "") -> ModelRegistry:
    config = tmp_path / "annotator_config.toml"
    config.write_text(f'[{entry}]\nmodel_path = "{folder.as_posix()}"\n{extra}', encoding="utf-8")
    return ModelRegistry(config_path=config, default_options={"storage_floor": 0.0})


def run(registry: ModelRegistry, name: str, size: int) -> list[AnnotationResult]:
    annotator = registry.get(name)
    annotator.load()
    return annotator.annotate_batch([Image.new("RGB", (size, size), colour) for colour in COLOURS])


def check(results: list[AnnotationResult], names: list[str], means: np.ndarray, weights: np.ndarray) -> None:
    """Every stored confidence is the model's answer for the documented preprocessing."""
    for row, result in enumerate(results):
        assert result.ok
        expected = expected_probabilities(means[row], weights.astype(np.float64), BIAS)
        got = {tag.name: tag.confidence for tag in result.tags}
        assert got, "no tags"
        for name, confidence in got.items():
            assert confidence == pytest.approx(expected[names.index(name)], abs=2e-3), name


def rgb(values: list[tuple[int, int, int]], scale: float, offset: float) -> np.ndarray:
    return np.array(values, dtype=np.float64) * scale + offset


def test_pixai_rgb_minus1_to_1_reads_prediction(tmp_path: Path) -> None:
    folder = tmp_path / "pixai"
    # NCHW, fixed 448 in the real export; three outputs, two of them as wide as the labels.
    build_linear_tagger(
        folder / "model.onnx",
        WEIGHTS,
        BIAS,
        layout="NCHW",
        size=16,
        outputs=("logits", "prediction"),
        extra_outputs=[("embedding", 5)],
    )
    names = [f"pixai_{i}" for i in range(N)]
    write_wd_csv(folder / "selected_tags.csv", [(name, 0) for name in names])
    results = run(registry_for(tmp_path, "pixai-tagger", folder), "pixai-tagger", 16)
    check(results, names, rgb(COLOURS, 2 / 255, -1.0), WEIGHTS)


def test_camie_sigmoid_json_labels_rgb_0_to_1_nchw(tmp_path: Path) -> None:
    folder = tmp_path / "camie"
    build_linear_tagger(
        folder / "camie-tagger-v2.onnx",
        WEIGHTS,
        BIAS,
        layout="NCHW",
        batch="batch_size",
        size=16,  # the real export is 512; a fixed size is used as given
        outputs=("initial_logits", "refined_predictions"),
    )
    # camie's refined head returns logits: rebuild it as raw output, so apply_sigmoid matters.
    import onnx

    model = onnx.load(str(folder / "camie-tagger-v2.onnx"))
    for node in model.graph.node:
        if node.output[0] == "refined_predictions":
            node.op_type = "Identity"
    onnx.save(model, str(folder / "camie-tagger-v2.onnx"))
    tags = [(f"camie_{i}", "general") for i in range(N - 2)] + [
        ("hatsune_miku", "character"),
        ("safe", "rating"),
    ]
    write_camie_metadata(folder / "camie-tagger-v2-metadata.json", tags)
    results = run(registry_for(tmp_path, "camie-tagger-v2", folder), "camie-tagger-v2", 16)
    names = [name for name, _ in tags]
    check(results, names, rgb(COLOURS, 1 / 255, 0.0), WEIGHTS)
    assert {tag.category for r in results for tag in r.tags if tag.name == "hatsune_miku"} == {"character"}
    assert all(r.rating == "safe" for r in results)


def test_camie_pads_with_black(tmp_path: Path) -> None:
    """A wide image padded to camie's square: the bands above and below are black, not white."""
    registry = ModelRegistry()
    annotator = registry.create("camie-tagger-v2")
    from image_annotator_lib.local.preprocessing import Preprocess

    preprocess = Preprocess.from_options(annotator.spec.options)
    array = preprocess.image_array(Image.new("RGB", (64, 32), (200, 100, 50)), 16)
    assert array[0, 8].tolist() == [0, 0, 0]
    assert array[8, 8].tolist() == [200, 100, 50]


def test_z3d_tags_selected_csv_wd_input(tmp_path: Path) -> None:
    folder = tmp_path / "z3d"
    weights = WEIGHTS / 255
    build_linear_tagger(
        folder / "model.onnx",
        weights,
        BIAS,
        size=16,
        input_name="input_1:0",
        outputs=("predictions_sigmoid",),
    )
    names = [f"e621_{i}" for i in range(N)]
    # Z3D's list carries e621 category codes: 5 is species, kept as general here; 4 is character.
    with (folder / "tags-selected.csv").open("w", encoding="utf-8") as handle:
        handle.write("name,category\n" + "".join(f"{n},{4 if i == 0 else 5}\n" for i, n in enumerate(names)))
    results = run(registry_for(tmp_path, "z3d-e621-convnext", folder), "z3d-e621-convnext", 16)
    check(results, names, np.array([c[::-1] for c in COLOURS], dtype=np.float64), weights)
    categories = {tag.name: tag.category for r in results for tag in r.tags}
    assert categories["e621_0"] == "character" and categories["e621_1"] == "general"


def test_deepdanbooru_txt_labels_nhwc_rgb(tmp_path: Path) -> None:
    folder = tmp_path / "ddb"
    build_linear_tagger(folder / "deepdanbooru.onnx", WEIGHTS, BIAS, size=16)
    names = [f"ddb_{i}" for i in range(N - 3)] + ["rating:safe", "rating:questionable", "rating:explicit"]
    (folder / "tags.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    results = run(registry_for(tmp_path, "deepdanbooru-v3", folder), "deepdanbooru-v3", 16)
    stripped = [name.removeprefix("rating:") for name in names]
    check(results, stripped, rgb(COLOURS, 1 / 255, 0.0), WEIGHTS)
    assert all(result.rating in {"safe", "questionable", "explicit"} for result in results)


def test_a_new_family_is_a_config_entry(tmp_path: Path) -> None:
    """cl_tagger's layout from TOML alone: files in a subfolder, JSON of {"idx": {tag, category}},
    BGR -1..1, logits."""
    folder = tmp_path / "cl"
    build_linear_tagger(
        folder / "v1" / "model.onnx", WEIGHTS, BIAS, layout="NCHW", size=16, outputs=("logits",)
    )
    names = [f"cl_{i}" for i in range(N)]
    mapping = {
        str(i): {"tag": name, "category": "Character" if i == 1 else "General"}
        for i, name in enumerate(names)
    }
    (folder / "v1" / "tag_mapping.json").write_text(json.dumps(mapping), encoding="utf-8")
    config = tmp_path / "annotator_config.toml"
    config.write_text(
        f'[my-cl]\nclass = "WDTagger"\nmodel_path = "{folder.as_posix()}"\n'
        'model_file = "v1/model.onnx"\nlabels_file = "v1/tag_mapping.json"\n'
        'value_range = "-1..1"\napply_sigmoid = true\n',
        encoding="utf-8",
    )
    registry = ModelRegistry(config_path=config, default_options={"storage_floor": 0.0})
    results = run(registry, "my-cl", 16)
    check(results, names, np.array([c[::-1] for c in COLOURS], dtype=np.float64) * 2 / 255 - 1, WEIGHTS)
    assert {tag.category for r in results for tag in r.tags if tag.name == "cl_1"} == {"character"}
