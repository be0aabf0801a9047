"""Provider classes by kind, registered with the model registry, and specs for configured models.

Model names are `<provider name>/<model id>`: `openai/gpt-5.4-mini`, `anthropic/claude-sonnet-5-5`,
`google/gemini-3.5-flash`, or `local/qwen2.5vl:7b` for a provider the user named `local`.
"""

from __future__ import annotations

from collections.abc import Iterable

from image_annotator_lib.core.base import ModelSpec
from image_annotator_lib.providers.anthropic_provider import AnthropicProvider
from image_annotator_lib.providers.base import VisionProvider
from image_annotator_lib.providers.google_provider import GoogleProvider
from image_annotator_lib.providers.openai_provider import OpenAIProvider
from image_annotator_lib.providers.prompt import PromptOptions
from image_annotator_lib.providers.settings import ProviderSettings
from image_annotator_lib.registry import register_class

CLASSES_BY_KIND: dict[str, type[VisionProvider]] = {
    "openai": OpenAIProvider,
    "openai-compatible": OpenAIProvider,
    "anthropic": AnthropicProvider,
    "google": GoogleProvider,
}

# The model used when a cloud provider's config pins none. Chosen (December 2026) from the locked
# SDKs' own lists, skipping every model with an announced shutdown: openai 3.54's ChatModel
# deprecation notes, anthropic 2.12's DEPRECATED_MODELS (claude-sonnet-4-5 retired 2026-11-30),
# google-genai 3.4's tokenizer table of released Gemini models. Update with the SDKs;
# `lorairo providers models <name>` shows what an account can use today.
DEFAULT_MODELS: dict[str, str] = {
    "openai": "gpt-5.4-mini",
    "anthropic": "claude-sonnet-5-5",
    "google": "gemini-3.5-flash",
}

for _cls in {*CLASSES_BY_KIND.values()}:
    register_class(_cls.__name__, _cls)


def split_model_name(name: str) -> tuple[str, str] | None:
    """`openai/gpt-4o` -> ("openai", "gpt-4o"); None for a name without a provider prefix."""
    provider, sep, model = name.partition("/")
    return (provider, model) if sep and provider and model else None


def model_spec(settings: ProviderSettings, model: str, prompt: PromptOptions | None = None) -> ModelSpec:
    """The registry entry for one model of a configured provider."""
    cls = CLASSES_BY_KIND[settings.kind]
    return ModelSpec(
        name=f"{settings.name}/{model}",
        class_name=cls.__name__,
        provider=settings.name,
        options={"settings": settings, "model": model, "prompt": prompt or PromptOptions()},
    )


def model_specs(
    settings: ProviderSettings, models: Iterable[str], prompt: PromptOptions | None = None
) -> list[ModelSpec]:
    return [model_spec(settings, model, prompt) for model in dict.fromkeys(m for m in models if m)]
