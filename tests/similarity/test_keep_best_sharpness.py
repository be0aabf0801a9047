""" "Keep best" ranks by resolution, then score, then sharpness: real images whose mean colour (so
their tiny-CLIP vector) and size are equal, measured by `images quality`, one of them never
measured. The same order ranks pHash groups (the links registration stores)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from lorairo.database.embedding_repository import EmbeddingRepository
from lorairo.database.schema import ImageSimilarity
from lorairo.services.edit_service import EditService, EditTarget
from lorairo.services.project_service import Project
from tests.factories import add_image_row
from tests.similarity.test_similarity_cli import run_cli

RED = np.array([200, 40, 40], np.int16)


def add_checked_image(project: Project, name: str, swing: int) -> int:
    """A 40x40 red image with a checkerboard of +-`swing` levels: the same channel means (so the
    same tiny-CLIP vector) for every swing, a larger Laplacian variance for a larger one."""
    checker = (np.indices((40, 40)).sum(axis=0) % 2) * 2 - 1
    pixels = np.clip(RED + checker[..., None] * swing, 0, 255).astype(np.uint8)
    path = project.images_dir / name
    PILImage.fromarray(pixels).save(path)
    return add_image_row(
        project.database,
        path,
        stored_path=path.relative_to(project.root).as_posix(),
        sha256=hashlib.sha256(name.encode()).hexdigest(),
    )


def test_sharpness_breaks_a_resolution_and_score_tie(
    capsys: pytest.CaptureFixture[str], project: Project, clip_model: Path
) -> None:
    soft = add_checked_image(project, "soft.png", 2)
    sharp = add_checked_image(project, "sharp.png", 30)
    measured = run_cli(capsys, "images", "quality", "-p", "t")
    assert measured["measured"] == 2
    unmeasured = add_checked_image(project, "unmeasured.png", 40)  # registered after the measuring
    run_cli(capsys, "annotate", "run", "-m", "tiny-clip", "-p", "t")
    with project.database.read_session() as session:
        facts = EmbeddingRepository.facts(session, [soft, sharp, unmeasured], "aesthetic")
    assert facts[unmeasured].sharpness is None
    assert facts[sharp].sharpness is not None and facts[soft].sharpness is not None
    assert facts[sharp].sharpness > facts[soft].sharpness

    data = run_cli(capsys, "images", "duplicates", "--semantic", "--keep-best", "-p", "t")
    assert data["ranked_by"] == ["resolution", "score", "sharpness"]
    [group] = data["groups"]
    # the unmeasured one is the sharpest of all, but a missing measure ranks below any measured
    assert [m["id"] for m in group["images"]] == [sharp, soft, unmeasured]
    assert group["keep"] == sharp
    assert group["images"][2]["sharpness"] is None
    assert data["keep_best"]["images_changed"] == 2 and data["keep_best"]["applied"] is False

    EditService(project).set_score(EditTarget(ids=(soft,)), 6.0, apply=True)  # score before sharpness
    again = run_cli(capsys, "images", "duplicates", "--semantic", "-p", "t")
    assert [m["id"] for m in again["groups"][0]["images"]] == [soft, sharp, unmeasured]


def test_phash_groups_are_ranked_and_kept_best_in_one_undoable_edit(
    capsys: pytest.CaptureFixture[str], project: Project
) -> None:
    soft = add_checked_image(project, "soft.png", 2)
    sharp = add_checked_image(project, "sharp.png", 30)
    other = add_checked_image(project, "other.png", 10)
    run_cli(capsys, "images", "quality", "-p", "t")
    with project.database.write_session() as session:  # registration's pHash links
        session.add_all(
            [
                ImageSimilarity(image_id=sharp, similar_to_id=soft, distance=2),
                ImageSimilarity(image_id=other, similar_to_id=soft, distance=3),
            ]
        )
    dry = run_cli(capsys, "images", "duplicates", "--keep-best", "-p", "t")
    assert dry["method"] == "phash" and dry["pairs"] == 2
    assert [m["id"] for m in dry["groups"][0]["images"]] == [sharp, other, soft]
    assert dry["keep_best"]["applied"] is False and dry["keep_best"]["images_changed"] == 2

    done = run_cli(capsys, "images", "duplicates", "--keep-best", "--apply", "-p", "t")
    assert done["keep_best"]["applied"] is True
    with project.database.read_session() as session:
        facts = EmbeddingRepository.facts(session, [soft, sharp, other], "aesthetic")
    assert {i for i, f in facts.items() if f.export_rejected} == {soft, other}
    run_cli(capsys, "edits", "undo", "-p", "t")
    with project.database.read_session() as session:
        facts = EmbeddingRepository.facts(session, [soft, sharp, other], "aesthetic")
    assert not any(f.export_rejected for f in facts.values())
