"""Tiny ONNX models with WD tagger and CLIP-scorer I/O, built with `onnx` so tests need no downloads."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _image_input(
    layout: str, size: int, batch: int | str = "batch"
) -> tuple[onnx.ValueInfoProto, list[onnx.NodeProto], str]:
    """The input declared in `layout`, plus nodes bringing it to NHWC so models agree on meaning."""
    shape: list[int | str] = [batch, size, size, 3] if layout == "NHWC" else [batch, 3, size, size]
    value = helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)
    if layout == "NHWC":
        return value, [], "input"
    return value, [helper.make_node("Transpose", ["input"], ["nhwc"], perm=[0, 2, 3, 1])], "nhwc"


def write_tags_csv(path: Path, tags: Sequence[tuple[str, int]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tag_id", "name", "category", "count"])
        for index, (name, category) in enumerate(tags):
            writer.writerow([index, name, category, 100 - index])
    return path


def build_pixel_tagger(folder: Path, *, layout: str = "NHWC", size: int = 8) -> Path:
    """Outputs the preprocessed input itself (NHWC order, /255) as tags `px_<y>_<x>_<c>`, so a test
    can read back exactly what the model saw, whichever layout it declares."""
    value, nodes, nhwc = _image_input(layout, size)
    shape = numpy_helper.from_array(np.array([0, -1], dtype=np.int64), "flat_shape")
    scale = numpy_helper.from_array(np.array(255.0, dtype=np.float32), "scale")
    nodes += [
        helper.make_node("Reshape", [nhwc, "flat_shape"], ["flat"]),
        helper.make_node("Div", ["flat", "scale"], ["output"]),
    ]
    count = size * size * 3
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", count])
    graph = helper.make_graph(nodes, "pixel_tagger", [value], [output], [shape, scale])
    _save(graph, folder / "model.onnx")
    names = [(f"px_{y}_{x}_{c}", 0) for y in range(size) for x in range(size) for c in range(3)]
    write_tags_csv(folder / "selected_tags.csv", names)
    return folder


def pixels_seen(tags: Sequence[object], size: int = 8) -> np.ndarray:
    """Rebuild the HWC array (0..255, BGR as the model received it) from a pixel tagger's tags."""
    array = np.full((size, size, 3), -1.0)
    for tag in tags:
        _, y, x, c = tag.name.split("_")  # type: ignore[attr-defined]
        array[int(y), int(x), int(c)] = tag.confidence * 255  # type: ignore[attr-defined]
    return array


# Colour tagger: confidences are linear in the mean B, G, R of the input (as the model receives it).
COLOUR_TAGS: list[tuple[str, int, tuple[float, float, float], float]] = [
    # name, category, weights on (B, G, R) means in 0..1, bias
    ("red_thing", 0, (0, 0, 1), 0),
    ("blue_thing", 0, (1, 0, 0), 0),
    ("green_thing", 0, (0, 1, 0), 0),
    ("hatsune_miku", 4, (0, 0, 0.9), 0),
    ("faint", 0, (0, 0, 0), 0.05),
    ("mid_(tag)", 0, (0, 0, 0), 0.3),
    ("general", 9, (0, 0, 1), 0),
    ("sensitive", 9, (0, 0, 0), 0.05),
    ("questionable", 9, (0, 0, 0), 0.05),
    ("explicit", 9, (1, 0, 0), 0),
]


def build_colour_tagger(
    folder: Path, *, layout: str = "NHWC", size: int = 16, batch: int | str = "batch"
) -> Path:
    """`batch = 1` copies the WD v1/v2 exports, whose batch axis is fixed at one image."""
    value, nodes, nhwc = _image_input(layout, size, batch)
    weights = np.array([w for _, _, w, _ in COLOUR_TAGS], dtype=np.float32).T
    bias = np.array([b for *_, b in COLOUR_TAGS], dtype=np.float32)
    initializers = [
        numpy_helper.from_array(weights, "weights"),
        numpy_helper.from_array(bias, "bias"),
        numpy_helper.from_array(np.array(255.0, dtype=np.float32), "scale"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "low"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "high"),
    ]
    nodes += [
        helper.make_node("ReduceMean", [nhwc], ["means"], axes=[1, 2], keepdims=0),
        helper.make_node("Div", ["means", "scale"], ["unit"]),
        helper.make_node("MatMul", ["unit", "weights"], ["linear"]),
        helper.make_node("Add", ["linear", "bias"], ["biased"]),
        helper.make_node("Clip", ["biased", "low", "high"], ["output"]),
    ]
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, len(COLOUR_TAGS)])
    graph = helper.make_graph(nodes, "colour_tagger", [value], [output], initializers)
    _save(graph, folder / "model.onnx")
    write_tags_csv(folder / "selected_tags.csv", [(name, category) for name, category, *_ in COLOUR_TAGS])
    return folder


def build_aesthetic_scorer(
    folder: Path, head_weights: Sequence[float], head_bias: float, size: int = 8
) -> Path:
    """Encoder: per-channel mean of the CLIP-normalised NCHW input (a 3-d embedding).
    Head: a linear layer on the embedding, one output."""
    value = helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 3, size, size])
    embeds = helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["batch", 3])
    encoder = helper.make_graph(
        [helper.make_node("ReduceMean", ["pixel_values"], ["image_embeds"], axes=[2, 3], keepdims=0)],
        "encoder",
        [value],
        [embeds],
    )
    _save(encoder, folder / "encoder.onnx")
    head_in = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 3])
    head_out = helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch", 1])
    head = helper.make_graph(
        [
            helper.make_node("MatMul", ["embedding", "w"], ["product"]),
            helper.make_node("Add", ["product", "b"], ["score"]),
        ],
        "head",
        [head_in],
        [head_out],
        [
            numpy_helper.from_array(np.array(head_weights, dtype=np.float32).reshape(3, 1), "w"),
            numpy_helper.from_array(np.array([head_bias], dtype=np.float32), "b"),
        ],
    )
    _save(head, folder / "head.onnx")
    return folder
