"""Fetching the published tag database from the Hugging Face Hub, only when asked.

`hf_hub_download` reuses its cache and falls back to it when the Hub is unreachable, so an
install works offline once the file has been downloaded; without a cached copy the error says
what to do instead of surfacing a network traceback.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
)

from genai_tag_db_tools.db.database import TagDatabaseError

DEFAULT_REPO_ID = "NEXTAltair/genai-image-tag-db"
DEFAULT_FILENAME = "genai-image-tag-db-cc0.sqlite"


class TagDbNotDownloaded(TagDatabaseError):
    """Offline (or the Hub unreachable) and no cached copy of the requested file."""


def fetch_base_file(
    repo_id: str = DEFAULT_REPO_ID,
    filename: str = DEFAULT_FILENAME,
    *,
    cache_dir: Path | None = None,
    revision: str | None = None,
    token: str | None = None,
) -> Path:
    """The local path of the published SQLite file, downloading it if it is not cached yet."""
    try:
        path = hf_hub_download(
            repo_id=repo_id,
            filename=filename,
            repo_type="dataset",
            revision=revision,
            cache_dir=cache_dir,
            token=token or None,
        )
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
        raise TagDbNotDownloaded(
            f"the tag database {repo_id}/{filename} is not downloaded yet and the Hugging Face Hub "
            "cannot be reached (offline, or HF_HUB_OFFLINE is set); connect once and run "
            "`lorairo tags db install`, or import a local file with `lorairo tags db import FILE`"
        ) from exc
    except (RepositoryNotFoundError, EntryNotFoundError) as exc:
        raise TagDatabaseError(f"{repo_id} has no file {filename} on the Hugging Face Hub") from exc
    except HfHubHTTPError as exc:
        raise TagDatabaseError(f"downloading {repo_id}/{filename} failed: {exc}") from exc
    return Path(path)
