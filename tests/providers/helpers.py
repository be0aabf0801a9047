"""Building real providers pointed at the fake server, and flat-colour test images."""

from __future__ import annotations

from typing import Any

from PIL import Image

from image_annotator_lib.core.base import ModelSpec
from image_annotator_lib.providers.anthropic_provider import AnthropicProvider
from image_annotator_lib.providers.base import VisionProvider
from image_annotator_lib.providers.google_provider import GoogleProvider
from image_annotator_lib.providers.openai_provider import OpenAIProvider
from image_annotator_lib.providers.prompt import PromptOptions
from image_annotator_lib.providers.settings import ProviderKind, ProviderSettings
from tests.providers.fake_llm_server import LEVEL, FakeLLMServer

KINDS: tuple[ProviderKind, ...] = ("openai", "anthropic", "google", "openai-compatible")
TEST_KEYS = {
    "openai": "sk-test-openai-0123456789abcdef",
    "anthropic": "sk-ant-test-0123456789abcdef",
    "google": "AIzaTest0123456789abcdefghijkl",
    "openai-compatible": "local-secret-key-42",
}
CLASSES: dict[str, type[VisionProvider]] = {
    "openai": OpenAIProvider,
    "openai-compatible": OpenAIProvider,
    "anthropic": AnthropicProvider,
    "google": GoogleProvider,
}


def base_url(kind: str, server: FakeLLMServer) -> str:
    return server.openai_base_url if kind in ("openai", "openai-compatible") else server.url


def provider_name(kind: str) -> str:
    return "local" if kind == "openai-compatible" else kind


def fast_settings(kind: ProviderKind, server: FakeLLMServer, **overrides: Any) -> ProviderSettings:
    """Real settings with tiny backoff so fault tests stay fast."""
    values: dict[str, Any] = {
        "kind": kind,
        "name": provider_name(kind),
        "api_key": TEST_KEYS[kind],
        "base_url": base_url(kind, server),
        "timeout": 5.0,
        "retry_attempts": 3,
        "requests_per_minute": 600_000,
        "max_concurrency": 4,
        "retry_base_delay": 0.001,
        "retry_max_delay": 0.01,
    }
    values.update(overrides)
    return ProviderSettings(**values)


def make_provider(
    kind: ProviderKind, server: FakeLLMServer, *, prompt: PromptOptions | None = None, **overrides: Any
) -> VisionProvider:
    settings = fast_settings(kind, server, **overrides)
    cls = CLASSES[kind]
    options: dict[str, Any] = {"settings": settings}
    if prompt is not None:
        options["prompt"] = prompt
    spec = ModelSpec(
        name=f"{settings.name}/vision-test", class_name=cls.__name__, provider=settings.name, options=options
    )
    return cls(spec)


def colour(i: int) -> tuple[int, int, int]:
    """Distinct quantised colours for images 0..215."""
    return (LEVEL * (i % 6), LEVEL * ((i // 6) % 6), LEVEL * ((i // 36) % 6))


def flat_image(i: int, size: tuple[int, int] = (64, 48)) -> Image.Image:
    return Image.new("RGB", size, colour(i))
