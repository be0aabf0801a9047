"""Secret masking shared by every log sink and every CLI/GUI display of a key.

Known secrets (configured keys, environment keys) are registered here, and anything that merely
looks like a provider key is masked too, so a key never reaches a log file or a terminal.
"""

from __future__ import annotations

import re
import threading

_KEY_PATTERNS = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]{8,}"  # Anthropic
    r"|sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{16,}"  # OpenAI
    r"|AIza[0-9A-Za-z_\-]{20,}"  # Google
    r"|hf_[A-Za-z0-9]{20,}"  # Hugging Face
    r"|(?<=Bearer )[A-Za-z0-9_\-\.=]{8,})"
)

_lock = threading.Lock()
_secrets: set[str] = set()


def mask_api_key(key: str) -> str:
    """Show just enough of a key for a user to recognise which one is configured."""
    if not key or len(key) < 12:
        return "***"
    return f"{key[:4]}***{key[-4:]}"


def register_secret(value: str | None) -> None:
    """Remember a secret so `redact` removes it wherever it appears."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Replace every registered secret and every key-shaped string with `***`."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, "***")
    return _KEY_PATTERNS.sub("***", text)
