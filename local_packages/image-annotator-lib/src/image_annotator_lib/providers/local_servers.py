"""Where the popular local servers listen by default: suggestions for `providers add`, never probed.

Kept apart from `discovery` (which loads httpx) so help texts can name them at no cost.
"""

from __future__ import annotations

WELL_KNOWN_LOCAL_SERVERS: dict[str, str] = {
    "ollama": "http://127.0.0.1:11434/v1",
    "lmstudio": "http://127.0.0.1:1234/v1",
    "vllm": "http://127.0.0.1:8000/v1",
    "llamacpp": "http://127.0.0.1:8080/v1",
}
