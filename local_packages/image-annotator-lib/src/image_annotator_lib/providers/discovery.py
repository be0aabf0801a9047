"""What a provider offers: its model list, which models see images, and how many parallel slots.

Local servers are read over their own HTTP endpoints (`GET /v1/models`; Ollama's `/api/tags` and
`/api/show`; LM Studio's `/api/v0/models`; llama.cpp's `/props`); clouds are listed through their
SDKs by `catalog.list_models`, so this module needs no provider class. A model is marked vision-capable only where the server says so; `vision` is None
when it does not say. Nothing here is called unless the user asked for a listing or configured
the server: well-known local ports are offered as suggestions, never probed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import httpx

from image_annotator_lib.exceptions import ProviderAuthenticationError, ProviderRequestError
from image_annotator_lib.providers.retry import classify_status
from image_annotator_lib.providers.settings import ProviderSettings

DISCOVERY_TIMEOUT = 5.0  # a listing is interactive: a server that takes longer counts as unreachable
_VISION_FAMILIES = frozenset({"clip", "mllama", "qwen25vl", "qwen2vl", "gemma3", "llava"})


@dataclass(frozen=True)
class DiscoveredModel:
    id: str
    vision: bool | None = None  # None: the server does not say

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ServerModels:
    """One provider's answer: its models, the endpoint they came from, parallel slots if reported."""

    models: list[DiscoveredModel]
    source: str
    parallel_slots: int | None = None


def server_root(base_url: str) -> str:
    """`http://host:11434/v1` -> `http://host:11434` (the native endpoints live at the root)."""
    root = base_url.rstrip("/")
    return root.removesuffix("/v1") if root.endswith("/v1") else root


def _headers(settings: ProviderSettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}


def _get_json(client: httpx.Client, method: str, url: str, **kwargs: Any) -> Any | None:
    """The JSON body of a 200 answer; None for any other status or a body that is not JSON."""
    response = client.request(method, url, **kwargs)
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _raise_for(settings: ProviderSettings, what: str, response: httpx.Response) -> None:
    error = classify_status(response.status_code, response.text[:200])
    if error.kind == "auth":
        raise ProviderAuthenticationError(
            f"{settings.name}: authentication failed ({response.status_code}) while {what}; "
            f"check the API key configured for provider {settings.name!r}"
        )
    raise ProviderRequestError(settings.scrub(f"{settings.name}: {what} failed: {error.message}"))


def _ollama_vision(client: httpx.Client, root: str, name: str, details: dict[str, Any]) -> bool | None:
    """Ollama's `/api/show` lists `capabilities` (with "vision"); older servers only name families."""
    shown = _get_json(client, "POST", f"{root}/api/show", json={"model": name})
    if isinstance(shown, dict) and isinstance(shown.get("capabilities"), list):
        return "vision" in shown["capabilities"]
    families = details.get("families") or []
    if isinstance(families, list) and families:
        return bool(_VISION_FAMILIES & {str(f).lower() for f in families})
    return None


def _openai_item_vision(item: dict[str, Any]) -> bool | None:
    """OpenRouter: `architecture.input_modalities`; LM Studio `/api/v0`: `type == "vlm"`."""
    architecture = item.get("architecture")
    if isinstance(architecture, dict) and isinstance(architecture.get("input_modalities"), list):
        return "image" in architecture["input_modalities"]
    if isinstance(item.get("type"), str) and item["type"] in ("vlm", "llm", "embeddings"):
        return item["type"] == "vlm"
    capabilities = item.get("capabilities")
    if isinstance(capabilities, list):
        return "vision" in capabilities
    return None


def _parallel_slots(client: httpx.Client, root: str) -> tuple[int | None, bool | None]:
    """llama.cpp's `/props`: `total_slots`, and whether the loaded model takes images."""
    props = _get_json(client, "GET", f"{root}/props")
    if not isinstance(props, dict):
        return None, None
    slots = props.get("total_slots")
    modalities = props.get("modalities")
    vision = modalities.get("vision") if isinstance(modalities, dict) else None
    return (
        slots if isinstance(slots, int) and slots > 0 else None,
        vision if isinstance(vision, bool) else None,
    )


def list_server_models(settings: ProviderSettings, *, timeout: float = DISCOVERY_TIMEOUT) -> ServerModels:
    """Ask an OpenAI-compatible server what it serves; raise `ProviderRequestError` if unreachable."""
    root = server_root(settings.base_url)
    try:
        with httpx.Client(timeout=timeout, headers=_headers(settings)) as client:
            tags = _get_json(client, "GET", f"{root}/api/tags")
            if isinstance(tags, dict) and isinstance(tags.get("models"), list):
                models = [
                    DiscoveredModel(
                        str(m["name"]), _ollama_vision(client, root, str(m["name"]), m.get("details") or {})
                    )
                    for m in tags["models"]
                    if isinstance(m, dict) and m.get("name")
                ]
                return ServerModels(models, "/api/tags")
            response = client.get(f"{settings.base_url.rstrip('/')}/models")
            if response.status_code != 200:
                _raise_for(settings, "listing models", response)
            try:
                data = response.json().get("data") or []
            except (ValueError, AttributeError):
                raise ProviderRequestError(f"{settings.name}: /models did not answer JSON") from None
            items = {str(d["id"]): d for d in data if isinstance(d, dict) and d.get("id")}
            lmstudio = _get_json(client, "GET", f"{root}/api/v0/models")
            if isinstance(lmstudio, dict):
                for extra in lmstudio.get("data") or []:
                    if isinstance(extra, dict) and str(extra.get("id")) in items:
                        items[str(extra["id"])] = {**items[str(extra["id"])], **extra}
            slots, loaded_vision = _parallel_slots(client, root)
            models = [DiscoveredModel(mid, _openai_item_vision(item)) for mid, item in items.items()]
            if loaded_vision is not None and len(models) == 1 and models[0].vision is None:
                models = [DiscoveredModel(models[0].id, loaded_vision)]
            return ServerModels(models, "/v1/models", slots)
    except httpx.HTTPError as exc:
        raise ProviderRequestError(
            settings.scrub(f"{settings.name}: {settings.base_url} is not reachable ({type(exc).__name__})")
        ) from None


def parallel_slots(settings: ProviderSettings, *, timeout: float = 2.0) -> int | None:
    """The server's parallel slots if it reports them (llama.cpp does), else None; never raises."""
    try:
        with httpx.Client(timeout=timeout, headers=_headers(settings)) as client:
            return _parallel_slots(client, server_root(settings.base_url))[0]
    except httpx.HTTPError:
        return None
