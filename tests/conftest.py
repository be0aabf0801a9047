"""Shared fixtures: every test gets its own config file and database directory, never the user's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import Project, ProjectService

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point LoRAIro at a throwaway config and database dir and clear provider keys."""
    home = tmp_path / "lorairo-home"
    monkeypatch.setenv("LORAIRO_CONFIG_PATH", str(home / "config" / "lorairo.toml"))
    monkeypatch.setenv("LORAIRO_DATABASE_DIR", str(home / "projects"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))  # platformdirs defaults, e.g. the tag DB dir
    for var in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GOOGLE_API_KEY",
        "GEMINI_API_KEY",
        "LORAIRO_LOG_LEVEL",
        "LORAIRO_DEBUG",
        "LORAIRO_MAX_WORKERS",
        "LORAIRO_BATCH_SIZE",
    ):
        monkeypatch.delenv(var, raising=False)
    yield home


@pytest.fixture
def config() -> ConfigurationService:
    """The isolated configuration (created with defaults on first use)."""
    return ConfigurationService()


@pytest.fixture
def project(config: ConfigurationService) -> Iterator[Project]:
    """A fresh project named `t` in the isolated database directory."""
    opened = ProjectService(config).create("t")
    yield opened
    opened.close()
