"""Connection settings for one configured provider, independent of how the app stores them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ProviderKind = Literal["openai", "anthropic", "google", "openai-compatible"]
OpenAIApi = Literal["chat", "responses"]
PROVIDER_KINDS: tuple[ProviderKind, ...] = ("openai", "anthropic", "google", "openai-compatible")


@dataclass(frozen=True)
class ProviderSettings:
    """Everything needed to call one provider. `name` is the prefix of its model names.

    `retry_base_delay` and `retry_max_delay` exist so tests (and impatient users) can shrink the
    backoff; `structured_output` can be switched off for OpenAI-compatible servers that reject
    JSON schemas, in which case the tolerant text parser does all the work. `max_concurrency`
    None means "as many as the server has parallel slots, else 2" (local servers).
    """

    kind: ProviderKind
    name: str
    api_key: str = ""
    base_url: str = ""
    timeout: float = 60.0
    retry_attempts: int = 3
    requests_per_minute: int = 60
    max_concurrency: int | None = 4
    retry_base_delay: float = 1.0
    retry_max_delay: float = 60.0
    structured_output: bool = True
    api: OpenAIApi = "chat"  # "responses": OpenAI's Responses API, for models offered only there

    def __post_init__(self) -> None:
        if self.kind not in PROVIDER_KINDS:
            raise ValueError(f"unknown provider kind {self.kind!r}; expected one of {PROVIDER_KINDS}")
        if self.timeout <= 0 or self.requests_per_minute < 1 or (self.max_concurrency or 1) < 1:
            raise ValueError("timeout, requests_per_minute and max_concurrency must be positive")
        if self.api not in ("chat", "responses"):
            raise ValueError(f'api must be "chat" or "responses", got {self.api!r}')
        if self.retry_attempts < 0:
            raise ValueError("retry_attempts must not be negative")

    def __repr__(self) -> str:
        """Never show the key, even in a debugger or a log line that formats the settings."""
        return (
            f"ProviderSettings(kind={self.kind!r}, name={self.name!r}, base_url={self.base_url!r}, "
            f"api_key={'set' if self.api_key else 'unset'})"
        )

    def scrub(self, text: str) -> str:
        """Remove this provider's key from any text that may end up in a log or a database row."""
        return text.replace(self.api_key, "***") if self.api_key and len(self.api_key) >= 4 else text
