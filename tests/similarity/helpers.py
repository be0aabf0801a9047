"""A tiny CLIP whose vectors are known functions of the pixels and of the words."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

LIBRARY_TESTS = Path(__file__).resolve().parents[2] / "local_packages" / "image-annotator-lib" / "tests"
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711])
WIDTH = 6
WORDS = ("red", "green", "blue", "dress", "beach")
COLOURS = {"red": (230, 20, 20), "green": (20, 230, 20), "blue": (20, 20, 230)}
PROJECTION = np.random.default_rng(21).normal(0, 1, (3, WIDTH)).astype(np.float32)


def real_signatures() -> ModuleType:
    """The library's builders of tiny models with real exports' signatures (one copy of them)."""
    if "real_signatures" not in sys.modules:
        spec = importlib.util.spec_from_file_location("real_signatures", LIBRARY_TESTS / "real_signatures.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["real_signatures"] = module
        spec.loader.exec_module(module)
    return sys.modules["real_signatures"]


def clip_vector(colour: tuple[int, int, int]) -> np.ndarray:
    vector = ((np.array(colour) / 255 - CLIP_MEAN) / CLIP_STD) @ PROJECTION.astype(np.float64)
    return vector / np.linalg.norm(vector)  # type: ignore[no-any-return]
