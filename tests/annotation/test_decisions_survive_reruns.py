"""A person's decisions outlive every model run (issue 13): reject, reorder, caption, score and
rating edits through the CLI, then `annotate run --all` with the same tiny ONNX tagger and a run of
another model, and every decision is still in force in search, the inspector and the export files;
undo and redo of the edits made before the re-runs stay exact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lorairo.cli.main import main
from lorairo.gui.widgets.image_inspector import editor_tags
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import Project
from lorairo.services.search_service import SearchService
from tests.annotation.helpers import add_solid_image
from tests.annotation.onnx_builders import build_colour_tagger
from tests.search.helpers import snapshot

MAGENTA = (255, 128, 255)  # red, blue, hatsune miku and (at 0.5) green from the colour tagger


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    with pytest.raises(SystemExit) as exit_info:
        main(["--json", *args])
        raise SystemExit(0)
    out = capsys.readouterr().out
    assert exit_info.value.code in (0, None), out
    return json.loads(out)  # type: ignore[no-any-return]


@pytest.fixture
def two_taggers(tmp_path: Path, config: ConfigurationService) -> None:
    folder = build_colour_tagger(tmp_path / "models" / "colour")
    config.annotator_config_path.write_text(
        f'[colour-tagger]\nclass = "WDTagger"\nmodel_path = "{folder.as_posix()}"\n\n'
        f'[second-tagger]\nclass = "WDTagger"\nmodel_path = "{folder.as_posix()}"\n',
        encoding="utf-8",
    )


def _state(capsys: pytest.CaptureFixture[str], project: Project, image_id: int, out: Path) -> dict[str, Any]:
    """What the person sees: search hits, the grid summary, the inspector's tag list, export files."""
    search = SearchService(project)
    summary = search.summaries([image_id])[0]
    cli(capsys, "export", "create", "-p", "t", "-o", str(out), "--overwrite")
    return {
        "tag": search.search('tag:"blue thing"').ids,
        "rejected": search.search('rejected:"blue thing"').ids,
        "score": search.search("score:>7").ids,
        "rating": search.search("rating:sensitive").ids,
        "caption": search.search('caption:"magenta square"').ids,
        "summary": (summary.tags, summary.caption, summary.score, summary.rating, summary.reviewed),
        "inspector": editor_tags(search.details([image_id])[0]["tags"]),
        "txt": (out / "shot.txt").read_text(encoding="utf-8"),
        "caption_file": (out / "shot.caption").read_text(encoding="utf-8")
        if (out / "shot.caption").exists()
        else None,
    }


def test_decisions_survive_rerun_replace_and_another_model(
    capsys: pytest.CaptureFixture[str], project: Project, two_taggers: None, tmp_path: Path
) -> None:
    image = add_solid_image(project, "shot.png", MAGENTA, size=(16, 16))
    ids = str(image)
    cli(capsys, "annotate", "run", "-m", "colour-tagger", "-p", "t")
    fresh = SearchService(project).summaries([image])[0].tags
    assert fresh == ["red thing", "blue thing", "hatsune miku", "green thing"], "the model's own order"

    dry = cli(capsys, "tags", "reorder", ids, "green thing, red thing", "-p", "t")
    assert dry["applied"] is False and SearchService(project).summaries([image])[0].tags == fresh
    cli(capsys, "tags", "reorder", ids, "green thing, red thing", "--apply", "-p", "t")
    cli(capsys, "images", "set-caption", "--ids", ids, "--caption", "a magenta square", "--apply", "-p", "t")
    cli(capsys, "images", "set-score", "--ids", ids, "--score", "7.5", "--apply", "-p", "t")
    cli(capsys, "images", "set-rating", "--ids", ids, "--rating", "sensitive", "--apply", "-p", "t")
    cli(capsys, "images", "mark-reviewed", "--ids", ids, "--apply", "-p", "t")
    cli(capsys, "tags", "reject", "blue thing", "--ids", ids, "--apply", "-p", "t")

    decided = {
        "tag": [],
        "rejected": [image],
        "score": [image],
        "rating": [image],
        "caption": [image],
        "summary": (["green thing", "red thing", "hatsune miku"], "a magenta square", 7.5, "sensitive", True),
        "inspector": [
            ("green thing", False),
            ("red thing", False),
            ("blue thing", True),
            ("hatsune miku", False),
        ],
        "txt": "green thing, red thing, hatsune miku\n",
        "caption_file": "a magenta square\n",
    }
    assert _state(capsys, project, image, tmp_path / "before") == decided

    rerun = cli(capsys, "annotate", "run", "-m", "colour-tagger", "--all", "-p", "t")
    assert rerun["images_annotated"] == 1
    assert _state(capsys, project, image, tmp_path / "rerun") == decided
    cli(capsys, "annotate", "run", "-m", "second-tagger", "-p", "t")
    assert _state(capsys, project, image, tmp_path / "second") == decided

    edited = snapshot(project)
    undone = cli(capsys, "edits", "undo", "-p", "t")
    assert undone["operation"] == "reject_tags" and undone["rows"] == 1
    restored = _state(capsys, project, image, tmp_path / "undone")
    assert restored["tag"] == [image] and restored["rejected"] == []
    assert restored["txt"] == "green thing, red thing, blue thing, hatsune miku\n"
    assert ("blue thing", False) in restored["inspector"]
    cli(capsys, "edits", "redo", "-p", "t")
    assert _state(capsys, project, image, tmp_path / "redone") == decided
    assert snapshot(project) == edited

    for _ in range(6):  # every edit made before both re-runs undoes exactly
        cli(capsys, "edits", "undo", "-p", "t")
    plain = _state(capsys, project, image, tmp_path / "plain")
    assert plain["summary"] == (
        ["red thing", "blue thing", "hatsune miku", "green thing"],
        None,
        None,
        "general",
        False,
    )
    assert plain["txt"] == "blue thing, red thing, hatsune miku, green thing\n"  # confidence, ties by name
    assert plain["caption_file"] is None and plain["tag"] == [image] and plain["score"] == []
    for _ in range(6):
        cli(capsys, "edits", "redo", "-p", "t")
    assert snapshot(project) == edited
    assert _state(capsys, project, image, tmp_path / "again") == decided
