"""Store values the layers above show before any store is open (option defaults, help text).

Free of SQLAlchemy on purpose: the CLI builds its help from them on every call.
"""

from __future__ import annotations

SORT_KEYS = ("added", "-added", "name", "-name", "score", "-score", "id", "-id", "random")
DEFAULT_SCORE_KIND = "aesthetic"  # the score `score:` and the grid mean without a kind
DEFAULT_LEASE_SECONDS = 300.0  # a work claim not renewed within this lapses and is claimed again
