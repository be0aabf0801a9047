"""A tiny CLIP (vision + text + tokenizer) in Xenova's layout, registered in annotator_config.toml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from image_annotator_lib.local.session_cache import default_session_cache
from lorairo.services.configuration_service import ConfigurationService
from tests.similarity.helpers import COLOURS, PROJECTION, WIDTH, WORDS, clip_vector, real_signatures


@pytest.fixture(autouse=True)
def fresh_sessions() -> Iterator[None]:
    default_session_cache.clear()
    yield
    default_session_cache.clear()


@pytest.fixture
def clip_model(tmp_path: Path, config: ConfigurationService) -> Path:
    """`tiny-clip` (ImageEmbedder with a text tower): each colour word's row is its colour's vector."""
    builders = real_signatures()
    folder = tmp_path / "models" / "clip"
    builders.build_clip_encoder(folder / "onnx" / "vision_model.onnx", PROJECTION)
    table = np.zeros((len(WORDS) + 1, WIDTH), np.float32)
    for index, word in enumerate(WORDS, start=1):
        if word in COLOURS:
            table[index] = clip_vector(COLOURS[word])
    builders.build_clip_text_encoder(folder / "onnx" / "text_model.onnx", table)
    builders.write_word_tokenizer(folder / "tokenizer.json", WORDS)
    config.annotator_config_path.write_text(
        f'[tiny-clip]\nclass = "ImageEmbedder"\nmodel_path = "{folder.as_posix()}"\ninput_size = 32\n'
        'text_encoder_file = "onnx/text_model.onnx"\n',
        encoding="utf-8",
    )
    return folder
