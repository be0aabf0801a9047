"""Tiny ONNX models with the signatures of real exports, plus a torch-free `.pth` writer.

Each model's outputs are a known linear function of the per-channel means of its input *as the
model receives it*, so a test can compute the expected tags or score from the colour of a solid
image and the preprocessing the model is documented to need: wrong channel order, value range or
output choice gives other numbers.
"""

from __future__ import annotations

import csv
import json
import shutil
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
COMMIT = "0123456789abcdef0123456789abcdef01234567"
Dim = int | str


def save_model(graph: onnx.GraphProto, path: Path, *, external_data: str | None = None) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    if external_data:
        onnx.save(
            model,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=external_data,
            size_threshold=0,
        )
    else:
        onnx.save(model, str(path))
    return path


def _channel_means(layout: str, batch: Dim, size: Dim, input_name: str, channel_dim: Dim = 3):
    """Input value info and nodes giving `means` [batch, 3] in the input's own channel order."""
    if layout == "NHWC":
        shape: list[Dim] = [batch, size, size, channel_dim]
        axes = [1, 2]
    else:
        shape = [batch, channel_dim, size, size]
        axes = [2, 3]
    value = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, shape)
    return value, [helper.make_node("ReduceMean", [input_name], ["means"], axes=axes, keepdims=0)]


def build_linear_tagger(
    path: Path,
    weights: np.ndarray,  # [3, N]: logits = means @ weights + bias
    bias: np.ndarray,
    *,
    layout: str = "NHWC",
    batch: Dim = "batch",
    size: Dim = 16,
    input_name: str = "input",
    outputs: Sequence[str] = ("output",),  # "logits" (raw), anything else: sigmoid
    output_width: Dim | None = None,
    extra_outputs: Sequence[tuple[str, int]] = (),  # other 2-D outputs (name, width), e.g. embeddings
    channel_dim: Dim = 3,
    external_data: str | None = None,
) -> Path:
    n = weights.shape[1]
    value, nodes = _channel_means(layout, batch, size, input_name, channel_dim)
    inits = [
        numpy_helper.from_array(weights.astype(np.float32), "w"),
        numpy_helper.from_array(bias.astype(np.float32), "b"),
    ]
    nodes += [
        helper.make_node("MatMul", ["means", "w"], ["mm"]),
        helper.make_node("Add", ["mm", "b"], ["raw"]),
    ]
    declared = []
    batch_dim = batch
    for name in outputs:
        op = "Identity" if name == "logits" or name.endswith("_logits") else "Sigmoid"
        nodes.append(helper.make_node(op, ["raw"], [name]))
        declared.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, [batch_dim, output_width or n])
        )
    for index, (name, width) in enumerate(extra_outputs):
        extra = np.ones((3, width), np.float32) * (index + 1)
        inits.append(numpy_helper.from_array(extra, f"e{index}"))
        nodes.append(helper.make_node("MatMul", ["means", f"e{index}"], [name]))
        declared.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [batch_dim, width]))
    graph = helper.make_graph(nodes, "tagger", [value], declared, inits)
    return save_model(graph, path, external_data=external_data)


def expected_probabilities(means: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(means @ weights + bias)))


def build_clip_encoder(path: Path, projection: np.ndarray, *, hidden: int = 5) -> Path:
    """optimum's CLIPVisionModelWithProjection signature: `pixel_values` [batch_size,
    num_channels, height, width] all symbolic; outputs `last_hidden_state` (3-D, listed first) and
    `image_embeds` [batch_size, E] = channel means @ projection."""
    value, nodes = _channel_means("NCHW", "batch_size", "height", "pixel_values", "num_channels")
    value = helper.make_tensor_value_info(
        "pixel_values", TensorProto.FLOAT, ["batch_size", "num_channels", "height", "width"]
    )
    width = projection.shape[1]
    inits = [
        numpy_helper.from_array(projection.astype(np.float32), "projection"),
        numpy_helper.from_array(np.ones((3, hidden), np.float32), "hidden_w"),
        numpy_helper.from_array(np.array([1], np.int64), "seq_axis"),
    ]
    nodes += [
        helper.make_node("MatMul", ["means", "projection"], ["image_embeds"]),
        helper.make_node("MatMul", ["means", "hidden_w"], ["hidden_flat"]),
        helper.make_node("Unsqueeze", ["hidden_flat", "seq_axis"], ["last_hidden_state"]),
    ]
    outputs = [
        helper.make_tensor_value_info(
            "last_hidden_state", TensorProto.FLOAT, ["batch_size", "sequence_length", hidden]
        ),
        helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["batch_size", width]),
    ]
    return save_model(helper.make_graph(nodes, "clip_vision", [value], outputs, inits), path)


def build_clip_text_encoder(path: Path, table: np.ndarray, *, attention_mask: bool = False) -> Path:
    """optimum's CLIPTextModelWithProjection signature: `input_ids` [batch_size, sequence_length]
    int64 (and `attention_mask` where asked); outputs `last_hidden_state` (3-D, first) and
    `text_embeds` [batch_size, E] = the sum of `table` rows of the ids (a pad row of zeros adds nothing)."""
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
    ]
    if attention_mask:
        inputs.append(
            helper.make_tensor_value_info(
                "attention_mask", TensorProto.INT64, ["batch_size", "sequence_length"]
            )
        )
    width = table.shape[1]
    inits = [
        numpy_helper.from_array(table.astype(np.float32), "token_table"),
        numpy_helper.from_array(np.array([1], np.int64), "seq_axis"),
    ]
    nodes = [
        helper.make_node("Gather", ["token_table", "input_ids"], ["last_hidden_state"], axis=0),
        helper.make_node("ReduceSum", ["last_hidden_state", "seq_axis"], ["text_embeds"], keepdims=0),
    ]
    outputs = [
        helper.make_tensor_value_info(
            "last_hidden_state", TensorProto.FLOAT, ["batch_size", "sequence_length", width]
        ),
        helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["batch_size", width]),
    ]
    return save_model(helper.make_graph(nodes, "clip_text", inputs, outputs, inits), path)


def write_word_tokenizer(path: Path, words: Sequence[str], *, pad: str = "<|endoftext|>") -> Path:
    """A `tokenizer.json` (Hugging Face tokenizers format): whitespace words, id 0 = the pad token,
    then `words` in order, unknown words mapped to the pad token."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    vocab = {pad: 0, **{word: index + 1 for index, word in enumerate(words)}}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token=pad))
    tokenizer.pre_tokenizer = Whitespace()
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    return path


def write_wd_csv(path: Path, tags: Sequence[tuple[str, int]], *, with_category: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tag_id", "name", "category", "count"] if with_category else ["id", "name"])
        for index, (name, category) in enumerate(tags):
            writer.writerow([index, name, category, 100] if with_category else [index, name])
    return path


def write_camie_metadata(path: Path, tags: Sequence[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    mapping = {
        "idx_to_tag": {str(i): name for i, (name, _) in enumerate(tags)},
        "tag_to_category": dict(tags),
    }
    path.write_text(
        json.dumps({"dataset_info": {"tag_mapping": mapping, "total_tags": len(tags)}}), encoding="utf-8"
    )
    return path


# --- torch's zip state-dict format, written without torch ------------------------------------


class _Pickle:
    """Protocol-2 opcodes, enough for an OrderedDict of `_rebuild_tensor_v2` calls."""

    def __init__(self) -> None:
        self.out = bytearray(b"\x80\x02")

    def glob(self, module: str, name: str) -> None:
        self.out += b"c" + f"{module}\n{name}\n".encode()

    def text(self, value: str) -> None:
        data = value.encode()
        self.out += b"X" + struct.pack("<I", len(data)) + data

    def integer(self, value: int) -> None:
        self.out += b"J" + struct.pack("<i", value)

    def ints(self, values: Sequence[int]) -> None:
        self.out += b"("
        for value in values:
            self.integer(value)
        self.out += b"t"

    def ordered_dict(self) -> None:
        self.glob("collections", "OrderedDict")
        self.out += b")R"


def write_state_dict(path: Path, tensors: dict[str, np.ndarray], *, root: str = "archive") -> Path:
    """A `.pth` exactly as `torch.save(model.state_dict(), path)` lays it out."""
    pickle = _Pickle()
    pickle.ordered_dict()
    for key, (name, array) in enumerate(tensors.items()):
        array = np.ascontiguousarray(array, dtype="<f4")
        pickle.text(name)
        pickle.glob("torch._utils", "_rebuild_tensor_v2")
        pickle.out += b"(("
        pickle.text("storage")
        pickle.glob("torch", "FloatStorage")
        pickle.text(str(key))
        pickle.text("cpu")
        pickle.integer(array.size)
        pickle.out += b"tQ"
        pickle.integer(0)
        pickle.ints(array.shape)
        pickle.ints([s // 4 for s in array.strides])
        pickle.out += b"\x89"
        pickle.ordered_dict()
        pickle.out += b"tRs"
    pickle.out += b"."
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{root}/data.pkl", bytes(pickle.out))
        for key, array in enumerate(tensors.values()):
            archive.writestr(f"{root}/data/{key}", np.ascontiguousarray(array, dtype="<f4").tobytes())
        archive.writestr(f"{root}/version", "3\n")
    return path


def populate_hub_cache(cache: Path, repo_id: str, source: Path) -> Path:
    """Lay files out as huggingface_hub does: content in `blobs/`, symlinks in the snapshot."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    for index, file in enumerate(sorted(p for p in source.rglob("*") if p.is_file())):
        blob = repo / "blobs" / f"{index:040x}"
        shutil.copyfile(file, blob)
        link = snapshot / file.relative_to(source)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path("../" * (len(file.relative_to(source).parts) + 1)) / "blobs" / blob.name)
    return snapshot
