"""Provider classes by kind, registered with the model registry, and specs for configured models.

Model names are `<provider name>/<model id>`: `openai/gpt-5.4-mini`, `anthropic/claude-sonnet-5-5`,
`google/gemini-3.5-flash`, or `local/qwen2.5vl:7b` for a provider the user named `local`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from image_annotator_lib.core.base import ModelSpec
from image_annotator_lib.exceptions import ProviderAuthenticationError, ProviderRequestError
from image_annotator_lib.providers.anthropic_provider import AnthropicProvider, classify_anthropic_error
from image_annotator_lib.providers.base import VisionProvider
from image_annotator_lib.providers.discovery import DiscoveredModel, ServerModels, list_server_models
from image_annotator_lib.providers.google_provider import GoogleProvider, classify_google_error
from image_annotator_lib.providers.openai_provider import (
    OpenAIProvider,
    classify_openai_error,
    make_openai_client,
)
from image_annotator_lib.providers.prompt import PromptOptions
from image_annotator_lib.providers.retry import ProviderError, classify_transport
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


# -- what each provider offers (SDK `models.list` for clouds; discovery.py reads local servers) --


def _openai_models(settings: ProviderSettings) -> list[DiscoveredModel]:
    with make_openai_client(settings) as client:
        return [DiscoveredModel(model.id) for model in client.models.list()]


def _anthropic_models(settings: ProviderSettings) -> list[DiscoveredModel]:
    import anthropic

    with anthropic.Anthropic(
        api_key=settings.api_key, base_url=settings.base_url or None, timeout=settings.timeout, max_retries=0
    ) as client:
        found = []
        for model in client.models.list():
            capabilities = getattr(model, "capabilities", None)
            image = getattr(capabilities, "image_input", None)
            found.append(DiscoveredModel(model.id, getattr(image, "supported", None)))
        return found


def _google_models(settings: ProviderSettings) -> list[DiscoveredModel]:
    from google import genai
    from google.genai import types

    options = types.HttpOptions(base_url=settings.base_url or None, timeout=int(settings.timeout * 1000))
    client = genai.Client(api_key=settings.api_key, http_options=options)
    found = []
    for model in client.models.list():
        actions = model.supported_actions or []
        if actions and "generateContent" not in actions:
            continue  # embedding and tuning-only models cannot annotate
        found.append(DiscoveredModel((model.name or "").removeprefix("models/")))
    return found


_SDK_LISTERS: dict[str, Callable[[ProviderSettings], list[DiscoveredModel]]] = {
    "openai": _openai_models,
    "anthropic": _anthropic_models,
    "google": _google_models,
}


def _classify(kind: str, exc: Exception) -> ProviderError | None:
    classifier = {"anthropic": classify_anthropic_error, "google": classify_google_error}.get(
        kind, classify_openai_error
    )
    return classifier(exc) or classify_transport(exc)


def list_models(settings: ProviderSettings) -> ServerModels:
    """Models of any configured provider: SDK `models.list` for clouds, the server's own list else."""
    if settings.kind == "openai-compatible":
        return list_server_models(settings)
    try:
        return ServerModels(_SDK_LISTERS[settings.kind](settings), "models.list")
    except Exception as exc:
        error = _classify(settings.kind, exc)
        if error is None:
            raise
        if error.kind == "auth":
            raise ProviderAuthenticationError(
                f"{settings.name}: authentication failed ({error.status}) while listing models; "
                f"check the API key configured for provider {settings.name!r}"
            ) from None
        raise ProviderRequestError(
            settings.scrub(f"{settings.name}: listing models failed: {error.message}")
        ) from None
