"""Where a local model's files come from: a folder on disk, or a Hugging Face repo id.

Repo files are downloaded once through `huggingface_hub` into its cache and read from there
afterwards, so a model works offline once installed. The cache location and offline mode are read
from the environment at call time (not at import), so `HF_HOME`/`HF_HUB_OFFLINE` set later count.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from huggingface_hub import hf_hub_download, try_to_load_from_cache
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
)

from image_annotator_lib.exceptions import ModelLoadError

FileProgress = Callable[[int, int, str], None]
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


def hub_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or str(Path("~/.cache/huggingface").expanduser())
    return Path(home).expanduser() / "hub"


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def is_repo_id(model_path: str) -> bool:
    """A repo id is `owner/name` that does not exist as a local path."""
    return bool(_REPO_ID.match(model_path)) and not Path(model_path).expanduser().exists()


def _cached_file(repo_id: str, filename: str) -> Path | None:
    found = try_to_load_from_cache(repo_id, filename, cache_dir=hub_cache_dir())
    return Path(found) if isinstance(found, str) else None


def locate_cached(model_path: str, filenames: Sequence[str]) -> dict[str, Path] | None:
    """The files if all are already on disk (folder or HF cache), without touching the network."""
    if not model_path:
        return None
    if is_repo_id(model_path):
        found = {name: _cached_file(model_path, name) for name in filenames}
        if any(path is None for path in found.values()):
            return None
        return {name: path for name, path in found.items() if path is not None}
    folder = Path(model_path).expanduser()
    paths = {name: folder / name for name in filenames}
    return paths if all(p.is_file() for p in paths.values()) else None


def resolve_model_files(
    model_path: str,
    filenames: Sequence[str],
    *,
    model_name: str = "",
    progress: FileProgress | None = None,
) -> dict[str, Path]:
    """Local paths of `filenames`, downloading repo files that are not cached yet.

    Raises `ModelLoadError` with what to do next: a missing folder or file, offline and not
    cached, an unknown or gated repo.
    """
    label = model_name or model_path
    if not model_path:
        raise ModelLoadError(f"model {label!r} has no model_path (a local folder or a Hugging Face repo id)")
    if not is_repo_id(model_path):
        folder = Path(model_path).expanduser()
        if not folder.is_dir():
            raise ModelLoadError(f"model {label!r}: folder {folder} does not exist")
        missing = [name for name in filenames if not (folder / name).is_file()]
        if missing:
            raise ModelLoadError(f"model {label!r}: {folder} lacks {', '.join(missing)}")
        return {name: folder / name for name in filenames}
    offline = hub_offline()
    paths: dict[str, Path] = {}
    for index, name in enumerate(filenames):
        if progress is not None:
            progress(index, len(filenames), name)
        try:
            downloaded = hf_hub_download(
                model_path, name, cache_dir=hub_cache_dir(), local_files_only=offline
            )
            paths[name] = Path(downloaded)
        except LocalEntryNotFoundError as exc:
            raise ModelLoadError(
                f"model {label!r}: {name} from {model_path} is not in the local cache and the Hub "
                f"cannot be reached{' (HF_HUB_OFFLINE is set)' if offline else ''}; "
                f"install it while online with `lorairo models install {label}`"
            ) from exc
        except GatedRepoError as exc:
            raise ModelLoadError(
                f"model {label!r}: {model_path} is gated; accept its terms and set a token"
            ) from exc
        except RepositoryNotFoundError as exc:
            raise ModelLoadError(f"model {label!r}: no Hugging Face repo {model_path}") from exc
        except EntryNotFoundError as exc:
            raise ModelLoadError(f"model {label!r}: {model_path} has no file {name}") from exc
        except (HfHubHTTPError, OSError) as exc:
            raise ModelLoadError(f"model {label!r}: downloading {name} failed: {exc}") from exc
    if progress is not None:
        progress(len(filenames), len(filenames), "")
    return paths


def size_on_disk(paths: dict[str, Path]) -> int:
    return sum(path.stat().st_size for path in paths.values())
