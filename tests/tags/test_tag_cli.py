"""`lorairo tags db ...`, `tags lookup`, `tags normalize`, `tags alias ...` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lorairo.cli.main import main
from tests.tags.genai_fixture import write_genai_sqlite


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    main(["--json", *args])
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def fails_with(capsys: pytest.CaptureFixture[str], code: int, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["--json", *args])
    assert exit_info.value.code == code
    return str(json.loads(capsys.readouterr().out)["error"]["message"])


def test_import_normalize_lookup_alias_restore(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    csv = tmp_path / "danbooru.csv"
    csv.write_text('long_hair,0,3000000,"longhair"\nlong_sleeves,0,900000,\n', encoding="utf-8")
    imported = run_cli(capsys, "tags", "db", "import", str(csv), "--format", "tagcomplete")
    assert (imported["tags"], imported["aliases"], imported["replaced"]) == (3, 1, True)

    normalized = run_cli(capsys, "tags", "normalize", "longhair, Long_Sleeves,, my_tag, longhair")
    assert normalized["normalized"] == "long hair, long sleeves, my tag"
    assert normalized["unknown"] == ["my tag"]

    found = run_cli(capsys, "tags", "lookup", "lo")
    assert [(r["tag"], r["usage_count"]) for r in found["results"]] == [
        ("long hair", 3000000),
        ("long sleeves", 900000),
    ]

    assert run_cli(capsys, "tags", "alias", "add", "my_tag", "long sleeves") == {
        "alias": "my tag",
        "preferred": "long sleeves",
    }
    assert run_cli(capsys, "tags", "alias", "list")["aliases"] == [
        {"alias": "my tag", "preferred": "long sleeves"}
    ]

    genai = write_genai_sqlite(tmp_path / "genai.sqlite")
    run_cli(capsys, "tags", "db", "import", str(genai))  # format detected, base replaced
    after = run_cli(capsys, "tags", "normalize", "witches_hat, my_tag, longhair")
    assert [t["tag"] for t in after["tags"]] == ["witch hat", "long sleeves", "longhair"]
    assert after["unknown"] == ["longhair"]

    run_cli(capsys, "tags", "db", "restore")
    assert run_cli(capsys, "tags", "normalize", "longhair")["normalized"] == "long hair"
    info = run_cli(capsys, "tags", "db", "info")
    assert info["metadata"]["source"] == str(csv) and info["counts"]["user_aliases"] == 1

    run_cli(capsys, "tags", "alias", "remove", "MY_TAG")
    assert fails_with(capsys, 2, "tags", "alias", "remove", "my_tag") == "no user alias 'my_tag'"


def test_bad_input_and_offline_install(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert "no such file" in fails_with(capsys, 2, "tags", "db", "import", str(tmp_path / "missing.csv"))
    assert "same tag" in fails_with(capsys, 2, "tags", "alias", "add", "Long_Hair", "long hair")
    assert "no tags given" in fails_with(capsys, 2, "tags", "normalize", " , ,")
    assert "tags db install" in fails_with(capsys, 1, "tags", "db", "install", "--repo-id", "someone/absent")
