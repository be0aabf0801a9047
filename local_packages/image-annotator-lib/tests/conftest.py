"""Library tests: no lorairo import. Sessions are cached per process; each test starts without any."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for `real_signatures` (not a package: `tests` is taken)

from image_annotator_lib.local.session_cache import default_session_cache


@pytest.fixture(autouse=True)
def fresh_sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    default_session_cache.clear()
    yield
    default_session_cache.clear()
