"""Configuration: defaults on first run, validation, env overrides, comment-preserving saves."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from lorairo.config import LorairoConfig
from lorairo.errors import ConfigurationError
from lorairo.services.configuration_service import ConfigurationService
from lorairo.utils.masking import mask_api_key


def _config_path(home: Path) -> Path:
    return home / "config" / "lorairo.toml"


def test_missing_file_is_created_with_commented_defaults_and_mode_0600(isolated_environment: Path) -> None:
    service = ConfigurationService()
    path = _config_path(isolated_environment)
    assert service.path == path
    text = path.read_text()
    assert "# LoRAIro configuration" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert service.config.directories.database_project_name == "main_dataset"


def test_default_template_matches_model_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LORAIRO_DATABASE_DIR")
    service = ConfigurationService()
    template = service.config.model_dump()
    defaults = LorairoConfig().model_dump()
    for section in (
        "api",
        "directories",
        "huggingface",
        "log",
        "image_processing",
        "annotation",
        "prompts",
        "tags",
    ):
        assert template[section] == defaults[section], section
    assert set(template["ai_providers"]) == {"openai", "anthropic", "google"}


def test_update_keeps_comments_and_file_stays_private(isolated_environment: Path) -> None:
    service = ConfigurationService()
    service.update_setting("log", "level", "debug")
    service.update_setting("ai_providers.local", "kind", "openai-compatible")
    text = _config_path(isolated_environment).read_text()
    assert 'level = "DEBUG"' in text
    assert "# TRACE, DEBUG, INFO, WARNING, ERROR or CRITICAL" in text
    assert "# parent of all projects" in text
    assert stat.S_IMODE(_config_path(isolated_environment).stat().st_mode) == 0o600
    reloaded = ConfigurationService()
    assert reloaded.config.log.level == "DEBUG"
    assert reloaded.config.ai_providers["local"].kind == "openai-compatible"


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("log", "level", "LOUD", "log.level"),
        ("log", "colour", "red", "log.colour: unknown key"),
        ("image_processing", "near_duplicate_threshold", 99, "near_duplicate_threshold"),
        ("image_processing", "target_resolutions", [1000], "multiples of 64"),
    ],
)
def test_invalid_settings_are_refused_and_not_saved(
    isolated_environment: Path, section: str, key: str, value: object, message: str
) -> None:
    service = ConfigurationService()
    before = _config_path(isolated_environment).read_text()
    with pytest.raises(ConfigurationError, match=message):
        service.update_setting(section, key, value)
    assert _config_path(isolated_environment).read_text() == before


def test_directory_that_is_a_file_is_a_clear_error(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_dir = isolated_environment / "file.txt"
    not_a_dir.parent.mkdir(parents=True, exist_ok=True)
    not_a_dir.write_text("x")
    monkeypatch.delenv("LORAIRO_DATABASE_DIR")
    service = ConfigurationService()
    with pytest.raises(ConfigurationError, match="is a file, not a directory"):
        service.update_setting("directories", "export_dir", str(not_a_dir))


def test_hand_edited_file_with_unknown_section_fails_to_load(isolated_environment: Path) -> None:
    path = _config_path(isolated_environment)
    path.parent.mkdir(parents=True)
    path.write_text("[directorys]\ndatabase_dir = 'x'\n")
    with pytest.raises(ConfigurationError, match="directorys: unknown key"):
        ConfigurationService()


def test_environment_overrides(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LORAIRO_DATABASE_DIR", str(isolated_environment / "elsewhere"))
    monkeypatch.setenv("LORAIRO_LOG_LEVEL", "warning")
    monkeypatch.setenv("LORAIRO_MAX_WORKERS", "3")
    monkeypatch.setenv("LORAIRO_BATCH_SIZE", "17")
    service = ConfigurationService()
    assert service.database_dir == (isolated_environment / "elsewhere").resolve()
    assert service.config.log.level == "WARNING"
    assert service.max_workers == 3
    assert service.config.resources.batch_size == 17
    monkeypatch.setenv("LORAIRO_DEBUG", "true")
    assert ConfigurationService().config.log.level == "DEBUG"
    monkeypatch.setenv("LORAIRO_MAX_WORKERS", "many")
    with pytest.raises(ConfigurationError, match="LORAIRO_MAX_WORKERS"):
        ConfigurationService()


def test_available_providers_follow_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    service = ConfigurationService()
    assert service.get_available_providers() == []
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789")
    service.update_setting("api", "google_key", "AIzaSyTestKey0123456789abcdefghij")
    service.update_setting("ai_providers.local", "kind", "openai-compatible")
    service.update_setting("ai_providers.router", "kind", "openai-compatible")
    service.update_setting("ai_providers.router", "api_key_env", "ROUTER_KEY")
    assert service.get_available_providers() == ["anthropic", "google", "local"]
    monkeypatch.setenv("ROUTER_KEY", "secret-router-key")
    assert "router" in service.get_available_providers()
    assert service.api_key("anthropic") == "sk-ant-test-0123456789"


def test_mask_api_key() -> None:
    assert mask_api_key("") == "***"
    assert mask_api_key("short") == "***"
    assert mask_api_key("sk-abcdefghijklmnop") == "sk-a***mnop"
