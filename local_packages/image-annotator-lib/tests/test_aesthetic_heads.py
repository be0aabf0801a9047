"""Aesthetic scoring with the real parts: an optimum-shaped CLIP encoder from one folder and a
PyTorch `.pth` head from another, read without torch; the real LAION head where it is available."""

from __future__ import annotations

import itertools
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from real_signatures import build_clip_encoder, build_linear_tagger, write_state_dict

from image_annotator_lib.core.base import ModelSpec
from image_annotator_lib.exceptions import ModelLoadError
from image_annotator_lib.local.aesthetic_scorer import AestheticScorer
from image_annotator_lib.local.torch_state import StateDictError, mlp_from_state_dict, read_state_dict
from image_annotator_lib.registry import ModelRegistry

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711])
RNG = np.random.default_rng(11)
EMBED = 8


def laion_like_head() -> dict[str, np.ndarray]:
    """LAION's key layout (Dropout at 1, 3, 5 leaves gaps) on a small embedding."""
    widths = [EMBED, 16, 8, 4, 3, 1]
    keys = ["layers.0", "layers.2", "layers.4", "layers.6", "layers.7"]
    state: dict[str, np.ndarray] = {}
    for key, (n_in, n_out) in zip(keys, itertools.pairwise(widths), strict=True):
        state[f"{key}.weight"] = RNG.normal(0, 0.5, (n_out, n_in)).astype(np.float32)
        state[f"{key}.bias"] = RNG.normal(0, 0.5, n_out).astype(np.float32)
    return state


def by_hand(embedding: np.ndarray, state: dict[str, np.ndarray], relu: bool, sigmoid: bool) -> float:
    """The head's forward pass written out from the weights: x W^T + b per Linear layer."""
    x = embedding.astype(np.float64)
    weights = [k for k in state if k.endswith(".weight")]
    for index, key in enumerate(weights):
        w, b = state[key].astype(np.float64), state[key.replace("weight", "bias")].astype(np.float64)
        x = np.array([sum(x[j] * w[i, j] for j in range(w.shape[1])) + b[i] for i in range(w.shape[0])])
        if relu and index < len(weights) - 1:
            x = np.maximum(x, 0)
    return float(1 / (1 + np.exp(-x[0])) if sigmoid else x[0])


def scorer_setup(tmp_path: Path, state: dict[str, np.ndarray]) -> tuple[Path, Path, np.ndarray]:
    projection = RNG.normal(0, 1, (3, EMBED)).astype(np.float32)
    encoder_dir = build_clip_encoder(
        tmp_path / "clip" / "onnx" / "vision_model.onnx", projection
    ).parent.parent
    head = write_state_dict(tmp_path / "heads" / "head.pth", state)
    return encoder_dir, head, projection


def expected_embedding(colour: tuple[int, int, int], projection: np.ndarray) -> np.ndarray:
    embedding = ((np.array(colour) / 255 - CLIP_MEAN) / CLIP_STD) @ projection.astype(np.float64)
    return embedding / np.linalg.norm(embedding)


@pytest.mark.parametrize(("relu", "sigmoid"), [(False, False), (True, True)])
def test_clip_encoder_and_pth_head_from_different_folders(tmp_path: Path, relu: bool, sigmoid: bool) -> None:
    state = laion_like_head()
    encoder_dir, head, projection = scorer_setup(tmp_path, state)
    scorer = AestheticScorer(
        ModelSpec(
            "aes",
            "AestheticScorer",
            str(tmp_path / "unused"),
            options={
                "encoder_path": str(encoder_dir),
                "encoder_file": "onnx/vision_model.onnx",
                "head_path": str(head.parent),
                "head_file": head.name,
                "head_relu": relu,
                "head_sigmoid": sigmoid,
                "input_size": 32,
            },
        )
    )
    colours = [(200, 30, 90), (10, 240, 120), (90, 90, 90)]
    results = scorer.annotate_batch([Image.new("RGB", (48, 32), colour) for colour in colours])
    for colour, result in zip(colours, results, strict=True):
        expected = by_hand(expected_embedding(colour, projection), state, relu, sigmoid)
        assert result.score == pytest.approx(expected, abs=1e-4)


def test_head_trained_on_another_clip_fails_at_load(tmp_path: Path) -> None:
    state = laion_like_head()
    state["layers.0.weight"] = RNG.normal(0, 1, (16, EMBED + 4)).astype(np.float32)
    encoder_dir, head, _ = scorer_setup(tmp_path, state)
    scorer = AestheticScorer(
        ModelSpec(
            "aes",
            "AestheticScorer",
            str(encoder_dir),
            options={
                "encoder_file": "onnx/vision_model.onnx",
                "head_path": str(head.parent),
                "head_file": head.name,
            },
        )
    )
    with pytest.raises(ModelLoadError, match=r"image_embeds is 8 wide but the head takes 12"):
        scorer.load()


def test_a_pickle_naming_anything_else_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R.")
    with pytest.raises(StateDictError, match=r"refusing os\.system"):
        read_state_dict(path)


def test_a_legacy_non_zip_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "old.pth"
    path.write_bytes(b"\x80\x02\x8a\x0a" + b"\x00" * 20)
    with pytest.raises(StateDictError, match="not a zip"):
        read_state_dict(path)


def test_single_file_onnx_scorer(tmp_path: Path) -> None:
    """skytnt/anime-aesthetic's shape: one NCHW model, RGB 0..1 on black, one output per image."""
    folder = tmp_path / "anime"
    weights = np.array([[0.2], [0.5], [0.3]], np.float32)
    build_linear_tagger(
        folder / "model.onnx",
        weights,
        np.zeros(1, np.float32),
        layout="NCHW",
        batch=1,
        size=16,
        input_name="img",
    )
    config = tmp_path / "annotator_config.toml"
    config.write_text(f'[anime-aesthetic]\nmodel_path = "{folder.as_posix()}"\n', encoding="utf-8")
    scorer = ModelRegistry(config_path=config).get("anime-aesthetic")
    colours = [(255, 0, 0), (0, 0, 255)]
    results = scorer.annotate_batch([Image.new("RGB", (16, 16), colour) for colour in colours])
    for colour, result in zip(colours, results, strict=True):
        expected = 1 / (1 + np.exp(-(np.array(colour) / 255) @ weights[:, 0]))
        assert result.score == pytest.approx(expected, abs=1e-4)
        assert result.score_scale_max == 1.0


def shared_models() -> Path | None:
    """`LORAIRO_SHARED_MODELS`, else the first `shared/models` beside any folder above this file
    (from /work/main or any worktree under /work/wt)."""
    if os.environ.get("LORAIRO_SHARED_MODELS"):
        return Path(os.environ["LORAIRO_SHARED_MODELS"])
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "models"
        if candidate.is_dir():
            return candidate
    return None


LAION = (shared_models() or Path("/nonexistent")) / "improved-aesthetic" / "sac+logos+ava1-l14-linearMSE.pth"


@pytest.mark.skipif(not LAION.is_file(), reason="the shared models folder is absent")
def test_real_laion_head_reads_with_its_known_shapes() -> None:
    state = read_state_dict(LAION)
    head = mlp_from_state_dict(state)
    assert head.shapes == [768, 1024, 128, 64, 16, 1]
    # The reader agrees with the raw storages (archive/data/N, float32 little-endian, in key order).
    with zipfile.ZipFile(LAION) as archive:
        raw = np.frombuffer(archive.read("archive/data/0"), "<f4").reshape(1024, 768)
        last = np.frombuffer(archive.read("archive/data/8"), "<f4").reshape(1, 16)
    assert np.array_equal(state["layers.0.weight"], raw)
    assert np.array_equal(state["layers.7.weight"], last)
    embedding = np.random.default_rng(0).normal(size=768)
    embedding /= np.linalg.norm(embedding)
    x = embedding
    for key in ("layers.0", "layers.2", "layers.4", "layers.6", "layers.7"):
        x = state[f"{key}.weight"].astype(np.float64) @ x + state[f"{key}.bias"]
    assert float(head(embedding[None])[0, 0]) == pytest.approx(float(x[0]), rel=1e-4)


@pytest.mark.skipif(not LAION.is_file(), reason="the shared models folder is absent")
def test_improved_aesthetic_entry_runs_the_real_head(tmp_path: Path) -> None:
    projection = RNG.normal(0, 1, (3, 768)).astype(np.float32)
    encoder = build_clip_encoder(tmp_path / "clip" / "onnx" / "vision_model.onnx", projection)
    config = tmp_path / "annotator_config.toml"
    config.write_text(
        f'[improved-aesthetic]\nmodel_path = "{LAION.parent.as_posix()}"\n'
        f'encoder_path = "{encoder.parent.parent.as_posix()}"\ninput_size = 32\n',
        encoding="utf-8",
    )
    scorer = ModelRegistry(config_path=config).get("improved-aesthetic")
    [result] = scorer.annotate_batch([Image.new("RGB", (40, 40), (180, 120, 60))])
    head = mlp_from_state_dict(read_state_dict(LAION))
    expected = head(expected_embedding((180, 120, 60), projection)[None])[0, 0]
    assert result.score == pytest.approx(float(expected), abs=1e-3)
    assert result.score_scale_max == 10.0
