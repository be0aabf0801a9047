"""Choices and defaults the CLI shows in its options and help, kept in one light module.

The services that act on them load SQLAlchemy, Pillow, scipy or the provider SDKs; importing these
values from here lets `lorairo --help` (built on every call) start without them.
"""

from __future__ import annotations

from image_annotator_lib.providers.local_servers import WELL_KNOWN_LOCAL_SERVERS
from lorairo.database.choices import DEFAULT_LEASE_SECONDS, SORT_KEYS

SIMILARITY_SORT = "similarity"
SORTS = (*SORT_KEYS, SIMILARITY_SORT)
DEFAULT_THRESHOLD = 0.95  # near-duplicate similarity
MAX_REQUESTS = 50_000  # the Batch API's limit per batch


def suggestions() -> str:
    """The well-known local servers, for help texts and error messages."""
    return ", ".join(f"{name} {url}" for name, url in WELL_KNOWN_LOCAL_SERVERS.items())


__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_THRESHOLD",
    "MAX_REQUESTS",
    "SIMILARITY_SORT",
    "SORTS",
    "suggestions",
]
