"""Publish an `hf` export as a Hugging Face dataset repository.

`HfApi.upload_folder` commits in batches and skips files the Hub already has with the same
content, so re-running an interrupted push resumes it instead of starting over.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import CommitInfo, HfApi
from huggingface_hub.errors import HfHubHTTPError

from lorairo.errors import AuthenticationError, LoRAIroException, ValidationError
from lorairo.export.hf_imagefolder import HF_METADATA_PATH
from lorairo.export.manifest import MANIFEST_NAME
from lorairo.utils.masking import redact, register_secret

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]{0,95}/[A-Za-z0-9][\w.\-]{0,95}$")
IGNORED = [".cache/**", "**/.cache/**", "*.lorairo-staging/**"]


@dataclass(frozen=True)
class PushReport:
    repo_id: str
    private: bool
    repo_url: str
    commit_url: str
    commit: str | None
    images: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "private": self.private,
            "repo_url": self.repo_url,
            "commit_url": self.commit_url,
            "commit": self.commit,
            "images": self.images,
        }


def validate_repo_id(repo_id: str) -> str:
    if not _REPO_ID.match(repo_id) or ".." in repo_id:
        raise ValidationError(f"--repo must look like USER/NAME, got {repo_id!r}")
    return repo_id


def _count_rows(metadata: Path) -> int:
    with metadata.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def push_to_hub(
    folder: Path, repo_id: str, *, token: str | None, private: bool, endpoint: str | None = None
) -> PushReport:
    """Create the dataset repo if needed and upload the export folder to it."""
    validate_repo_id(repo_id)
    metadata = folder / HF_METADATA_PATH
    if not folder.is_dir() or not metadata.is_file():
        raise ValidationError(
            f"{folder} is not an hf export (no {HF_METADATA_PATH}); export with --format hf first"
        )
    if not (folder / MANIFEST_NAME).is_file():
        raise ValidationError(f"{folder} has no {MANIFEST_NAME}; push only folders written by lorairo export")
    register_secret(token)
    api = HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None, token=token or None)
    try:
        repo = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        images = _count_rows(metadata)
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            repo_type="dataset",
            commit_message=f"LoRAIro export: {images} images",
            ignore_patterns=list(IGNORED),
        )
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        kind = AuthenticationError if status in {401, 403} else LoRAIroException
        raise kind(f"push to {repo_id} failed: {redact(str(exc))}") from exc
    assert isinstance(commit, CommitInfo)
    return PushReport(
        repo_id=repo_id,
        private=private,
        repo_url=str(repo),
        commit_url=commit.commit_url,
        commit=commit.oid,
        images=images,
    )
