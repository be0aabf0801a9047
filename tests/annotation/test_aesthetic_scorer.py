"""CLIP + MLP scoring through two real ONNX sessions (encoder and head), no torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from image_annotator_lib.core.base import ModelSpec
from image_annotator_lib.local.aesthetic_scorer import AestheticScorer
from tests.annotation.onnx_builders import build_aesthetic_scorer

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711])


def expected_score(rgb: tuple[int, int, int], weights: list[float], bias: float, normalise: bool) -> float:
    embedding = (np.array(rgb) / 255 - CLIP_MEAN) / CLIP_STD
    if normalise:
        embedding = embedding / np.linalg.norm(embedding)
    return float(embedding @ np.array(weights) + bias)


@pytest.mark.parametrize("normalise", [True, False])
def test_score_follows_the_clip_normalised_embedding(tmp_path: Path, normalise: bool) -> None:
    weights, bias = [1.0, -2.0, 0.5], 5.0
    folder = build_aesthetic_scorer(tmp_path, weights, bias)
    scorer = AestheticScorer(
        ModelSpec("aes", "AestheticScorer", str(folder), options={"normalize_embedding": normalise})
    )
    colours = [(200, 30, 90), (10, 240, 120)]
    results = scorer.annotate_batch([Image.new("RGB", (30, 20), colour) for colour in colours])
    for colour, result in zip(colours, results, strict=True):
        assert result.score == pytest.approx(expected_score(colour, weights, bias, normalise), abs=1e-4)
        assert (result.score_kind, result.score_scale_max) == ("aesthetic", 10.0)


def test_scale_and_kind_come_from_options(tmp_path: Path) -> None:
    folder = build_aesthetic_scorer(tmp_path, [0.0, 0.0, 0.0], 0.7)
    scorer = AestheticScorer(
        ModelSpec(
            "waifu", "AestheticScorer", str(folder), options={"score_scale_max": 1.0, "score_kind": "waifu"}
        )
    )
    [result] = scorer.annotate_batch([Image.new("RGBA", (8, 8), (0, 0, 0, 0))])
    assert result.score == pytest.approx(0.7)
    assert (result.score_kind, result.score_scale_max) == ("waifu", 1.0)
