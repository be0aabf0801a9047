"""Vision-LLM providers as the user manages them: add a server, list providers, read their models.

Adding writes `[ai_providers.NAME]` through the configuration service (comments kept, mode 0600,
only the name of the key's environment variable, never a key). Listing contacts a provider only
when asked; well-known local ports are suggestions shown to the user, never probed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from loguru import logger

from image_annotator_lib.exceptions import AnnotatorLibError, ProviderAuthenticationError
from image_annotator_lib.providers.catalog import list_models, model_spec
from image_annotator_lib.providers.discovery import DiscoveredModel, ServerModels
from image_annotator_lib.providers.local_servers import WELL_KNOWN_LOCAL_SERVERS
from image_annotator_lib.registry import ModelRegistry
from lorairo.annotations.provider_settings import (
    configured_models,
    prompt_options,
    provider_names,
    provider_settings,
)
from lorairo.config import BUILTIN_PROVIDERS
from lorairo.errors import AIProviderError, AuthenticationError, ValidationError
from lorairo.services.choices import suggestions
from lorairo.services.configuration_service import ConfigurationService

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def normalise_url(url: str) -> str:
    """A server URL or a well-known server's name (`ollama`) -> its OpenAI-compatible base URL."""
    url = WELL_KNOWN_LOCAL_SERVERS.get(url.strip().lower(), url.strip())
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"--url must be an http(s) URL such as {suggestions()}; got {url!r}")
    if parts.query or parts.fragment:
        raise ValidationError(f"--url must not carry a query or fragment: {url!r}")
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path or '/v1'}"


@dataclass
class ProviderStatus:
    """One provider as `providers list` shows it; `models` only when it was contacted."""

    name: str
    kind: str
    base_url: str
    key: str  # "set", "missing" or "not needed" - never the key itself
    pinned: list[str]
    reachable: bool | None = None  # None: not contacted (no key, or not asked)
    error: str | None = None
    models: list[DiscoveredModel] = field(default_factory=list)
    parallel_slots: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["models"] = [model.to_dict() for model in self.models]
        return data


class ProviderService:
    def __init__(self, config: ConfigurationService) -> None:
        self.config = config

    def add(self, name: str, url: str, key_env: str | None = None) -> dict[str, Any]:
        """Write `[ai_providers.NAME]` for an OpenAI-compatible server; nothing is contacted."""
        if not _NAME.match(name):
            raise ValidationError(f"provider name {name!r}: use letters, digits, '-' or '_' (max 40)")
        if name in BUILTIN_PROVIDERS or name in self.config.config.ai_providers:
            raise ValidationError(
                f"provider {name!r} already exists; pick another name or edit {self.config.path}"
            )
        if key_env is not None and not _ENV_VAR.match(key_env):
            raise ValidationError(f"--key-env takes an environment variable name, got {key_env!r}")
        base_url = normalise_url(url)
        section = f"ai_providers.{name}"
        self.config.update_setting(section, "kind", "openai-compatible")
        self.config.update_setting(section, "base_url", base_url)
        if key_env:
            self.config.update_setting(section, "api_key_env", key_env)
        return {"name": name, "kind": "openai-compatible", "base_url": base_url, "api_key_env": key_env or ""}

    def _key_state(self, name: str, kind: str) -> str:
        if self.config.api_key(name):
            return "set"
        if kind == "openai-compatible" and not self.config.provider(name).api_key_env:
            return "not needed"
        return "missing"

    def status(self, name: str, *, contact: bool = True) -> ProviderStatus:
        if name not in provider_names(self.config):
            raise ValidationError(
                f"no provider {name!r}; configured: {', '.join(provider_names(self.config))}"
            )
        kind = self.config.provider_kind(name)
        section = self.config.provider(name)
        status = ProviderStatus(
            name=name,
            kind=kind,
            base_url=section.base_url,
            key=self._key_state(name, kind),
            pinned=configured_models(self.config, name),
        )
        if not contact or name not in self.config.get_available_providers():
            return status
        try:
            found = self.models(name)
        except AIProviderError as exc:
            status.reachable, status.error = False, str(exc)
        else:
            status.reachable, status.models, status.parallel_slots = True, found.models, found.parallel_slots
        return status

    def list(self, *, contact: bool = True) -> list[ProviderStatus]:
        return [self.status(name, contact=contact) for name in provider_names(self.config)]

    def models(self, name: str) -> ServerModels:
        """The provider's own model list; refused without a key, errors as LoRAIro errors."""
        if name not in provider_names(self.config):
            raise ValidationError(f"no provider {name!r}; `lorairo providers list` shows them")
        if name not in self.config.get_available_providers():
            raise AuthenticationError(f"provider {name!r} has no API key configured")
        settings = provider_settings(self.config, name)
        try:
            return list_models(settings)
        except ProviderAuthenticationError as exc:
            raise AuthenticationError(str(exc)) from exc
        except AnnotatorLibError as exc:
            raise AIProviderError(str(exc)) from exc


def add_discovered_models(registry: ModelRegistry, config: ConfigurationService) -> list[str]:
    """Register `NAME/<id>` for every model an OpenAI-compatible server without pinned models
    serves; an unreachable server is skipped with a warning. Returns the names added."""
    added: list[str] = []
    service = ProviderService(config)
    prompt = prompt_options(config)
    for name in config.get_available_providers():
        if config.provider_kind(name) != "openai-compatible" or configured_models(config, name):
            continue
        try:
            found = service.models(name)
        except AIProviderError as exc:
            logger.warning("{}: models not discovered: {}", name, exc)
            continue
        settings = provider_settings(config, name)
        for model in found.models:
            if model.vision is False:
                continue  # the server says it cannot see images
            spec = model_spec(settings, model.id, prompt)
            if spec.name not in registry.names():
                registry.add_spec(spec)
                added.append(spec.name)
    return added
