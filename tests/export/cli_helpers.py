"""Run the real CLI in-process with --json and read its one JSON object (shared by the export tests)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lorairo.cli.main import main


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """Exit code and the single JSON object printed on stdout."""
    code = 0
    try:
        main(["--json", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1, out
    return code, json.loads(out)
