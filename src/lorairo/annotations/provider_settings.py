"""`[ai_providers.*]` and `[prompts]` turned into the library's provider settings and model specs.

Providers without a key are left out of the registry (so model lists never offer them), and a
model name that points at one is refused with a message naming where the key goes.
"""

from __future__ import annotations

from image_annotator_lib.core.base import ModelSpec
from image_annotator_lib.providers.catalog import DEFAULT_MODELS, model_spec, model_specs, split_model_name
from image_annotator_lib.providers.prompt import PromptOptions
from image_annotator_lib.providers.settings import ProviderSettings
from image_annotator_lib.registry import ModelRegistry
from lorairo.config import BUILTIN_PROVIDERS, PROVIDER_KEY_ENV, ProviderSection, Settings
from lorairo.errors import ConfigurationError
from lorairo.utils.masking import register_secret


def provider_names(config: Settings) -> list[str]:
    """Built-in providers plus every `[ai_providers.<name>]` table."""
    return list(dict.fromkeys([*BUILTIN_PROVIDERS, *config.config.ai_providers]))


def _concurrency(section: ProviderSection, kind: str) -> int | None:
    """What the user set; else 4 for clouds, None (= the server's parallel slots, else 2) for servers."""
    if "max_concurrency" in section.model_fields_set or kind != "openai-compatible":
        return section.max_concurrency
    return None


def provider_settings(config: Settings, name: str) -> ProviderSettings:
    section = config.provider(name)
    kind = config.provider_kind(name)
    if kind == "openai-compatible" and not section.base_url:
        raise ConfigurationError(f'ai_providers.{name}: an "openai-compatible" provider needs base_url')
    if section.api == "responses" and kind not in ("openai", "openai-compatible"):
        raise ConfigurationError(f'ai_providers.{name}: api = "responses" is for OpenAI providers only')
    api_key = config.api_key(name)
    register_secret(api_key)  # a key read from the environment for a built-in may be new to the masker
    return ProviderSettings(
        kind=kind,  # type: ignore[arg-type]
        name=name,
        api_key=api_key,
        base_url=section.base_url,
        timeout=section.timeout,
        retry_attempts=section.retry_attempts,
        requests_per_minute=section.rate_limit_requests_per_minute,
        max_concurrency=_concurrency(section, kind),
        retry_base_delay=section.retry_base_delay,
        api=section.api,
    )


def prompt_options(config: Settings) -> PromptOptions:
    prompts = config.config.prompts
    return PromptOptions.of(list(prompts.fields), prompts.additional)


def configured_models(config: Settings, name: str) -> list[str]:
    """The pinned models; for a cloud provider with none pinned, the library's current default."""
    section = config.provider(name)
    pinned = list(dict.fromkeys(m for m in [section.model, *section.models] if m))
    default = DEFAULT_MODELS.get(config.provider_kind(name))
    return pinned or ([default] if default else [])


def add_provider_models(registry: ModelRegistry, config: Settings) -> None:
    """Register the configured models of every provider that can be called now."""
    prompt = prompt_options(config)
    for name in config.get_available_providers():
        for spec in model_specs(provider_settings(config, name), configured_models(config, name), prompt):
            registry.add_spec(spec)


def _missing_key_message(config: Settings, name: str) -> str:
    section = config.provider(name)
    where = [f"[api] {BUILTIN_PROVIDERS[name]}"] if name in BUILTIN_PROVIDERS else []
    env = section.api_key_env or PROVIDER_KEY_ENV.get(name, "")
    if env:
        where.append(f"the {env} environment variable")
    hint = " or ".join(where) or f"api_key_env in [ai_providers.{name}]"
    return f"provider {name!r} has no API key, so its models are unavailable; set {hint}"


def resolve_provider_model(registry: ModelRegistry, config: Settings, model_name: str) -> ModelSpec | None:
    """Make `<provider>/<model>` usable even when the model is not listed in the config.

    Returns the spec for an API model (adding it to the registry if needed), None for names that
    are not provider models (local models), and refuses providers without a key."""
    parts = split_model_name(model_name)
    if parts is None or parts[0] not in provider_names(config):
        return None
    name, model = parts
    if name not in config.get_available_providers():
        raise ConfigurationError(_missing_key_message(config, name))
    if model_name in registry.names():
        return registry.spec(model_name)
    spec = model_spec(provider_settings(config, name), model, prompt_options(config))
    registry.add_spec(spec)
    return spec
