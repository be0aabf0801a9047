"""Builders for GUI tests: a real registered project and a tiny WD-style ONNX tagger."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image as PILImage

# name, category (WD codes: 0 general, 9 rating), weight on the mean brightness, bias
TAGGER_TAGS: list[tuple[str, int, float, float]] = [
    ("bright_image", 0, 1.0, 0.0),
    ("dark_image", 0, -1.0, 1.0),
    ("general", 9, 0.0, 0.9),
    ("explicit", 9, 0.0, 0.01),
]


def build_brightness_tagger(folder: Path, size: int = 16) -> Path:
    """`model.onnx` + `selected_tags.csv`: confidences are linear in the image's mean brightness."""
    weights = np.array([[w for _, _, w, _ in TAGGER_TAGS]], dtype=np.float32)
    bias = np.array([b for *_, b in TAGGER_TAGS], dtype=np.float32)
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Div", ["mean", "scale"], ["unit"]),
        helper.make_node("Unsqueeze", ["unit", "axis"], ["column"]),
        helper.make_node("MatMul", ["column", "weights"], ["linear"]),
        helper.make_node("Add", ["linear", "bias"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "brightness_tagger",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", size, size, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", len(TAGGER_TAGS)])],
        [
            numpy_helper.from_array(weights, "weights"),
            numpy_helper.from_array(bias, "bias"),
            numpy_helper.from_array(np.array(255.0, dtype=np.float32), "scale"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axis"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    with (folder / "selected_tags.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tag_id", "name", "category", "count"])
        for index, (name, category, _, _) in enumerate(TAGGER_TAGS):
            writer.writerow([index, name, category, 100 - index])
    return folder


def write_solid(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (40, 32)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.new("RGB", size, colour).save(path)
    return path
