"""Fixtures for annotation tests: a project, a tiny colour tagger registered in annotator_config.toml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from image_annotator_lib.local.session_cache import default_session_cache
from lorairo.services.configuration_service import ConfigurationService
from tests.annotation.onnx_builders import build_colour_tagger


@pytest.fixture(autouse=True)
def fresh_sessions() -> Iterator[None]:
    """Sessions are cached per process; each test starts without any."""
    default_session_cache.clear()
    yield
    default_session_cache.clear()


@pytest.fixture
def colour_model(tmp_path: Path, config: ConfigurationService) -> Path:
    """`colour-tagger` (NHWC) in annotator_config.toml, as a user would register a local model."""
    folder = build_colour_tagger(tmp_path / "models" / "colour")
    config.annotator_config_path.write_text(
        f'[colour-tagger]\nclass = "WDTagger"\nmodel_path = "{folder.as_posix()}"\n', encoding="utf-8"
    )
    return folder
