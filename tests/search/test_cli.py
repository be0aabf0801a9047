"""The search and edit commands through the real entry point: JSON on stdout, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lorairo.cli.main import main
from lorairo.database.schema import Caption, Tag
from tests.search.helpers import new_project, snapshot

# Every test here runs on each selected store engine (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("store_engine")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    with pytest.raises(SystemExit) as exit_info:
        cut = args.index("--") if "--" in args else len(args)
        main(["--json", *args[:cut], "-p", "search-test", *args[cut:]])
        raise SystemExit(0)
    out = capsys.readouterr().out.strip()
    return int(exit_info.value.code or 0), json.loads(out) if out else {}


@pytest.fixture
def project(tmp_path: Path):
    project, ids = new_project(tmp_path, count=4)
    with project.database.write_session() as session:
        for n, image_id in enumerate(ids):
            session.add(Tag(image_id=image_id, tag="1girl" if n % 2 else "cat", confidence=0.9))
            session.add(Caption(image_id=image_id, caption=f"picture {n} of a red dress"))
    yield project, ids
    project.close()


def test_search_show_stats(project, capsys: pytest.CaptureFixture[str]) -> None:
    _project, ids = project
    code, data = run(capsys, "images", "search", "tag:1girl")
    assert code == 0 and data["ids"] == [ids[1], ids[3]] and data["total"] == 2
    assert data["images"][0]["tags"] == ["1girl"]
    code, data = run(capsys, "images", "search", "--count", "--", "-tag:1girl")
    assert code == 0 and data["total"] == 2
    code, data = run(capsys, "images", "show", str(ids[0]))
    assert data["images"][0]["tags"][0]["tag"] == "cat" and data["images"][0]["tags"][0]["confidence"] == 0.9
    code, data = run(capsys, "tags", "stats", 'caption:"red dress"')
    assert data["total"] == 4
    assert {t["tag"]: t["images"] for t in data["tags"]["general"]} == {"1girl": 2, "cat": 2}


def test_bad_query_exits_2_with_the_column(project, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run(capsys, "images", "search", "tag:a colour:red")
    assert code == 2
    assert data["error"]["message"] == "at column 7: unknown field 'colour'"


def test_edit_dry_run_apply_log_undo(project, capsys: pytest.CaptureFixture[str]) -> None:
    opened, ids = project
    before = snapshot(opened)
    code, dry = run(capsys, "tags", "add", "smile,blue_eyes", "tag:cat")
    assert code == 0 and not dry["applied"] and dry["images_changed"] == 2 and dry["rows_inserted"] == 4
    assert snapshot(opened) == before
    code, applied = run(capsys, "tags", "add", "smile,blue_eyes", "tag:cat", "--apply")
    assert applied["edit_id"] is not None and applied["rows_inserted"] == dry["rows_inserted"]
    code, found = run(capsys, "images", "search", "tag:blue_eyes")
    assert found["ids"] == [ids[0], ids[2]]
    code, removed = run(capsys, "tags", "reject", "1girl", "--apply")
    assert removed["images_changed"] == 2
    code, log = run(capsys, "edits", "log")
    assert [e["operation"] for e in log["edits"]] == ["reject_tags", "add_tags"]
    run(capsys, "edits", "undo")
    code, undone = run(capsys, "edits", "undo")
    assert code == 0 and undone["edit_id"] == applied["edit_id"]
    assert snapshot(opened) == before
    code, error = run(capsys, "edits", "undo")
    assert code == 2 and "nothing to undo" in error["error"]["message"]
    code, error = run(capsys, "tags", "add", "x", "all", "--ids", "1")
    assert code == 2


def test_default_score_kind_is_configured_and_reorder_is_a_dry_run_first(
    project, capsys: pytest.CaptureFixture[str]
) -> None:
    opened, ids = project
    main(["--json", "config", "set", "search.default_score_kind", "quality"])
    capsys.readouterr()
    code, data = run(capsys, "images", "set-score", "--ids", str(ids[0]), "--score", "8", "--apply")
    assert code == 0 and data["description"] == "quality score = 8.0"
    code, data = run(capsys, "images", "search", "score:>7")
    assert data["ids"] == [ids[0]] and data["images"][0]["score"] == 8.0
    code, data = run(capsys, "images", "search", "score[aesthetic]:>7")
    assert data["ids"] == []

    before = snapshot(opened)
    code, dry = run(capsys, "tags", "reorder", str(ids[0]), "cat")
    assert code == 0 and not dry["applied"] and dry["samples"] == {str(ids[0]): ["cat @0"]}
    assert snapshot(opened) == before
    code, error = run(capsys, "tags", "reorder", str(ids[0]), "dog")
    assert code == 2 and "no tag dog" in error["error"]["message"]
    code, applied = run(capsys, "tags", "reorder", str(ids[0]), "cat", "--apply")
    assert applied["edit_id"] is not None
    code, undone = run(capsys, "edits", "undo")
    assert undone["operation"] == "reorder_tags" and snapshot(opened) == before
