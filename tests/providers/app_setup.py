"""A real project and `lorairo.toml` whose providers all point at one fake server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import Project, ProjectService
from tests.factories import add_image_row
from tests.providers.fake_llm_server import FakeLLMServer
from tests.providers.helpers import TEST_KEYS, flat_image

MODELS = {
    "openai": "openai/gpt-test",
    "anthropic": "anthropic/claude-test",
    "google": "google/gemini-test",
    "openai-compatible": "local/qwen-test",
}
KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "google": "GOOGLE_API_KEY",
    "openai-compatible": "LOCAL_LLM_KEY",
}


def write_config(server: FakeLLMServer, *, retry_attempts: int = 10, extra: str = "") -> ConfigurationService:
    """Providers on the fake server; keys come from the environment, as users are told to do."""
    path = Path(os.environ["LORAIRO_CONFIG_PATH"])
    path.parent.mkdir(parents=True, exist_ok=True)
    common = f"timeout = 5\nretry_attempts = {retry_attempts}\nrate_limit_requests_per_minute = 600000\nretry_base_delay = 0.01\n"
    path.write_text(
        f"""
[ai_providers.openai]
api_key_env = "OPENAI_API_KEY"
base_url = "{server.openai_base_url}"
model = "gpt-test"
{common}
[ai_providers.anthropic]
api_key_env = "ANTHROPIC_API_KEY"
base_url = "{server.url}"
model = "claude-test"
{common}
[ai_providers.google]
api_key_env = "GOOGLE_API_KEY"
base_url = "{server.url}"
model = "gemini-test"
{common}
[ai_providers.local]
kind = "openai-compatible"
api_key_env = "LOCAL_LLM_KEY"
base_url = "{server.openai_base_url}"
models = ["qwen-test"]
{common}
{extra}
""",
        encoding="utf-8",
    )
    return ConfigurationService()


def set_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for kind, env in KEY_ENV.items():
        monkeypatch.setenv(env, TEST_KEYS[kind])


def project_with_images(
    config: ConfigurationService, count: int, name: str = "llm"
) -> tuple[Project, list[int]]:
    """`count` flat-colour PNGs registered in a fresh project; image i has colour(i)."""
    project = ProjectService(config).create(name)
    ids = []
    for i in range(count):
        path = project.images_dir / f"img{i:03d}.png"
        flat_image(i, (96, 64)).save(path)
        ids.append(add_image_row(project.database, path))
    return project, ids
