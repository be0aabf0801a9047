"""`lorairo_export.json`: what an export contained and how it was made, written as a stream.

The file list is what `--overwrite` may replace later, so it is read back defensively: only plain
relative paths inside the export count, whatever a hand-edited manifest says.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST_NAME = "lorairo_export.json"


def write_manifest(path: Path, header: dict[str, Any], files: Iterable[tuple[str, str]]) -> None:
    """Write the header fields, then `files` as `[{"path", "sha256"}, ...]` without holding them all."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(header, ensure_ascii=False, indent=1, default=str)[:-1].rstrip())
        handle.write(',\n "files": [')
        for index, (relative, digest) in enumerate(files):
            handle.write("\n  " if index == 0 else ",\n  ")
            handle.write(json.dumps({"path": relative, "sha256": digest}, ensure_ascii=False))
        handle.write("\n ]\n}\n")


def _safe_relative(value: object) -> str | None:
    if not isinstance(value, str) or not value or "\\" in value:
        return None
    path = PurePosixPath(value)
    if path.is_absolute() or any(part in {"", ".", ".."} for part in path.parts):
        return None
    return path.as_posix()


def previous_files(folder: Path) -> set[str]:
    """Relative paths a previous export recorded in `folder` (plus the manifest itself), or none."""
    manifest = folder / MANIFEST_NAME
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(data, dict) or data.get("tool") != "lorairo" or not isinstance(data.get("files"), list):
        return set()
    listed = {_safe_relative(entry.get("path")) for entry in data["files"] if isinstance(entry, dict)}
    return {path for path in listed if path} | {MANIFEST_NAME}
