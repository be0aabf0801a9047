from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import constants

from genai_tag_db_tools.hub import TagDbNotDownloaded, fetch_base_file

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def populate_cache(cache: Path, repo_id: str, filename: str, payload: bytes) -> Path:
    """The Hub cache layout hf_hub_download itself writes: refs/main -> snapshots/<commit>/file."""
    repo_dir = cache / f"datasets--{repo_id.replace('/', '--')}"
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(COMMIT)
    target = repo_dir / "snapshots" / COMMIT / filename
    target.parent.mkdir(parents=True)
    target.write_bytes(payload)
    return target


def test_offline_uses_the_downloaded_copy(tmp_path: Path) -> None:
    assert constants.HF_HUB_OFFLINE
    cached = populate_cache(tmp_path, "someone/tag-db", "tags.sqlite", b"SQLite format 3\x00")
    path = fetch_base_file("someone/tag-db", "tags.sqlite", cache_dir=tmp_path)
    assert path == cached
    assert path.read_bytes().startswith(b"SQLite format 3")


def test_offline_and_absent_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(TagDbNotDownloaded, match=r"not downloaded yet.*tags db install"):
        fetch_base_file("someone/missing", "tags.sqlite", cache_dir=tmp_path)
