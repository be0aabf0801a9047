"""Embeddings end to end through the real CLI: `annotate run` stores vectors, `images similar`
ranks by them (and by text), `images duplicates --semantic --keep-best` rejects the lesser copies
from export in one undoable edit, and a scorer on the same encoder scores the stored vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lorairo.cli.main import main
from lorairo.database.embedding_repository import EmbeddingRepository, ImageFacts
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditService, EditTarget
from lorairo.services.project_service import Project
from tests.annotation.helpers import add_solid_image
from tests.similarity.helpers import COLOURS, clip_vector, real_signatures

SHADES = {
    "red-big.png": ((230, 20, 20), (96, 64)),
    "red-small.png": ((230, 20, 20), (48, 32)),
    "red-dark.png": ((180, 30, 30), (40, 60)),
    "blue.png": ((20, 20, 230), (50, 50)),
    "blue-2.png": ((25, 30, 220), (30, 70)),
    "green.png": ((20, 230, 20), (64, 64)),
}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    main(["--json", *args])
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def _facts(project: Project, ids: dict[str, int]) -> dict[int, ImageFacts]:
    with project.database.read_session() as session:
        return EmbeddingRepository.facts(session, list(ids.values()), "aesthetic")


def embedded_project(capsys: pytest.CaptureFixture[str], project: Project) -> dict[str, int]:
    ids = {name: add_solid_image(project, name, colour, size) for name, (colour, size) in SHADES.items()}
    report = run_cli(capsys, "annotate", "run", "-m", "tiny-clip", "-p", "t", "--batch-size", "4")
    assert (report["images_annotated"], report["embeddings_stored"]) == (6, 6)
    return ids


def test_similar_ranks_by_the_cosine_of_the_pixels(
    capsys: pytest.CaptureFixture[str], project: Project, clip_model: Path
) -> None:
    ids = embedded_project(capsys, project)
    data = run_cli(capsys, "images", "similar", str(ids["red-dark.png"]), "-p", "t", "--limit", "4")
    assert (data["image"], data["model"]) == (ids["red-dark.png"], "tiny-clip")
    query = clip_vector(SHADES["red-dark.png"][0])
    expected = sorted(
        (
            (float(clip_vector(colour) @ query), name)
            for name, (colour, _) in SHADES.items()
            if name != "red-dark.png"
        ),
        reverse=True,
    )[:4]
    assert [r["name"] for r in data["results"]][:2] == ["red-big.png", "red-small.png"]  # tie: lower id first
    assert {r["name"] for r in data["results"]} == {name for _, name in expected}
    for result, (similarity, _) in zip(data["results"], expected, strict=True):
        assert result["similarity"] == pytest.approx(similarity, abs=2e-3)  # float16 storage
    assert ids["red-dark.png"] not in [r["id"] for r in data["results"]]


def test_text_ranks_images_of_its_words(
    capsys: pytest.CaptureFixture[str], project: Project, clip_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded_project(capsys, project)
    data = run_cli(capsys, "images", "similar", "--text", "blue dress on a beach", "-p", "t", "--limit", "2")
    assert data["text"] == "blue dress on a beach"
    assert [r["name"] for r in data["results"]] == ["blue.png", "blue-2.png"]
    monkeypatch.setattr("lorairo.services.similarity_service.QUERY_LIMIT", 2)  # text: = the 2 nearest
    found = run_cli(capsys, "images", "search", 'text:"blue dress" width:>=50', "-p", "t")
    assert [image["name"] for image in found["images"]] == ["blue.png"]  # the text field combines


def test_a_new_vector_is_found_after_the_index_was_built(
    capsys: pytest.CaptureFixture[str], project: Project, clip_model: Path
) -> None:
    ids = embedded_project(capsys, project)
    run_cli(capsys, "images", "similar", str(ids["green.png"]), "-p", "t")
    twin = add_solid_image(project, "green-2.png", COLOURS["green"], (20, 20))
    run_cli(capsys, "annotate", "run", "-m", "tiny-clip", "-p", "t")
    data = run_cli(capsys, "images", "similar", str(ids["green.png"]), "-p", "t", "--limit", "1")
    assert [r["id"] for r in data["results"]] == [twin]


def test_keep_best_rejects_the_lesser_copies_in_one_undoable_edit(
    capsys: pytest.CaptureFixture[str], project: Project, clip_model: Path, tmp_path: Path
) -> None:
    ids = embedded_project(capsys, project)
    EditService(project).set_score(EditTarget(ids=(ids["blue-2.png"],)), 9.0, apply=True)
    dry = run_cli(
        capsys, "images", "duplicates", "--semantic", "--threshold", "0.995", "--keep-best", "-p", "t"
    )
    groups = {tuple(sorted(m["name"] for m in g["images"])): g["keep"] for g in dry["groups"]}
    assert groups == {
        ("red-big.png", "red-small.png"): ids["red-big.png"],  # more pixels
        ("blue-2.png", "blue.png"): ids["blue.png"],  # 2500 px beats 2100 px before any score
    }
    assert dry["keep_best"]["applied"] is False and dry["keep_best"]["images_changed"] == 2
    assert _facts(project, ids)[ids["red-small.png"]].export_rejected is False

    done = run_cli(
        capsys,
        "images",
        "duplicates",
        "--semantic",
        "--threshold",
        "0.995",
        "--keep-best",
        "--apply",
        "-p",
        "t",
    )
    assert done["keep_best"]["edit_id"] is not None
    facts = _facts(project, ids)
    assert {i for i, f in facts.items() if f.export_rejected} == {ids["red-small.png"], ids["blue-2.png"]}
    exported = run_cli(capsys, "export", "create", "-o", str(tmp_path / "out"), "-p", "t")
    assert exported["skipped"].get("rejected from export") == 2

    again = run_cli(
        capsys, "images", "duplicates", "--semantic", "--threshold", "0.995", "--keep-best", "-p", "t"
    )
    assert again["keep_best"] is None  # already rejected: nothing more to do

    run_cli(capsys, "edits", "undo", "-p", "t")
    facts = _facts(project, ids)
    assert not any(f.export_rejected for f in facts.values())


def test_score_breaks_a_resolution_tie(
    capsys: pytest.CaptureFixture[str], project: Project, clip_model: Path
) -> None:
    first = add_solid_image(project, "a.png", COLOURS["red"], (40, 40))
    second = add_solid_image(project, "b.png", COLOURS["red"], (40, 40))
    run_cli(capsys, "annotate", "run", "-m", "tiny-clip", "-p", "t")
    EditService(project).set_score(EditTarget(ids=(second,)), 7.5, apply=True)
    data = run_cli(capsys, "images", "duplicates", "--semantic", "-p", "t")
    assert [g["keep"] for g in data["groups"]] == [second]
    assert [m["id"] for m in data["groups"][0]["images"]] == [second, first]


def test_without_embeddings_similar_is_a_clear_error(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    image = add_solid_image(project, "x.png", (1, 2, 3))
    with pytest.raises(SystemExit) as exit_info:
        main(["images", "similar", str(image), "-p", "t"])
    assert exit_info.value.code == 2
    assert "annotate run -m clip-vit-b32-embed" in capsys.readouterr().err


def test_scorer_on_the_same_encoder_scores_stored_vectors_without_decoding(
    capsys: pytest.CaptureFixture[str],
    project: Project,
    clip_model: Path,
    config: ConfigurationService,
    tmp_path: Path,
) -> None:
    ids = embedded_project(capsys, project)
    head = {
        "fc.weight": np.array([[0.5, -1.0, 0.25, 2.0, -0.5, 1.0]], np.float32),
        "fc.bias": np.array([5.0], np.float32),
    }
    real_signatures().write_state_dict(tmp_path / "head" / "head.pth", head)
    with config.annotator_config_path.open("a", encoding="utf-8") as handle:
        handle.write(
            f'\n[tiny-aesthetic]\nclass = "AestheticScorer"\nmodel_path = "{clip_model.as_posix()}"\n'
            f'encoder_file = "onnx/vision_model.onnx"\nhead_path = "{(tmp_path / "head").as_posix()}"\n'
            'head_file = "head.pth"\ninput_size = 32\n'
        )
    for name in SHADES:  # only stored vectors can be scored now
        (project.images_dir / name).unlink()
    report = run_cli(capsys, "annotate", "run", "-m", "tiny-aesthetic", "-p", "t")
    [stats] = report["per_model"]
    assert (stats["scored_from"], stats["scored_from_vectors"], report["failures"]) == ("tiny-clip", 6, 0)
    shown = run_cli(capsys, "images", "search", "score:>0", "-p", "t", "--limit", "10")
    by_id = {image["id"]: image["score"] for image in shown["images"]}
    for name, (colour, _) in SHADES.items():
        expected = float(clip_vector(colour) @ head["fc.weight"][0] + head["fc.bias"][0])
        assert by_id[ids[name]] == pytest.approx(expected, abs=5e-3)
