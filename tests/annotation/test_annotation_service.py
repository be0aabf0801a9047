"""AnnotationService end to end: real project database, real image files, real ONNX sessions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lorairo.annotations.ai_annotator import AiAnnotatorError, build_registry, call_annotate_library
from lorairo.database.schema import AnnotationFailure, Model, ModelAnnotation, ProcessedImage, Rating, Tag
from lorairo.errors import ValidationError
from lorairo.services.annotation_service import AnnotationService
from lorairo.services.annotation_store import AnnotationStore
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.progress import CancelToken
from lorairo.services.project_service import Project
from tests.annotation.helpers import BLUE, RED, add_solid_image
from tests.annotation.onnx_builders import build_colour_tagger

MODEL = "colour-tagger"


def tags_of(project: Project, image_id: int) -> dict[str, Tag]:
    with project.database.read_session() as session:
        rows = session.scalars(select(Tag).where(Tag.image_id == image_id)).all()
    return {row.tag: row for row in rows}


def count(project: Project, table: type) -> int:
    with project.database.read_session() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_run_stores_confidences_categories_and_rating_apart(
    project: Project, config: ConfigurationService, colour_model: Path
) -> None:
    red = add_solid_image(project, "red.png", RED)
    blue = add_solid_image(project, "blue.png", BLUE, size=(10, 30))
    report = AnnotationService(project, config).run([MODEL])
    assert (report.images_selected, report.images_annotated, report.failures) == (2, 2, 0)

    red_tags = tags_of(project, red)
    assert red_tags["red thing"].confidence == pytest.approx(1.0)
    assert red_tags["hatsune miku"].category == "character" and red_tags["hatsune miku"].is_accepted
    mid = red_tags["mid (tag)"]
    assert (mid.raw_tag, mid.is_accepted) == ("mid_(tag)", False)
    assert mid.confidence == pytest.approx(0.3, abs=1e-5)
    assert "faint" not in red_tags and "general" not in red_tags
    assert "blue thing" in tags_of(project, blue)
    with project.database.read_session() as session:
        ratings = dict(session.execute(select(Rating.image_id, Rating.rating)).all())
        model = session.scalars(select(Model)).one()
    assert ratings == {red: "general", blue: "explicit"}
    assert (model.name, model.type, model.provider) == (MODEL, "tagger", "local")


def test_storage_floor_and_thresholds_come_from_config(
    project: Project, config: ConfigurationService, colour_model: Path
) -> None:
    config.update_setting("annotation", "storage_floor", 0.01)
    config.update_setting("annotation", "general_threshold", 0.25)
    red = add_solid_image(project, "red.png", RED)
    AnnotationService(project, config).run([MODEL])
    tags = tags_of(project, red)
    assert tags["faint"].confidence == pytest.approx(0.05, abs=1e-5) and not tags["faint"].is_accepted
    assert tags["mid (tag)"].is_accepted


def test_corrupt_image_is_recorded_and_the_rest_of_the_batch_annotated(
    project: Project, config: ConfigurationService, colour_model: Path
) -> None:
    good = add_solid_image(project, "good.png", RED)
    bad = add_solid_image(project, "bad.png", BLUE)
    other = add_solid_image(project, "other.png", RED, size=(20, 20))
    path = project.images_dir / "bad.png"
    path.write_bytes(path.read_bytes()[:40])

    report = AnnotationService(project, config).run([MODEL], batch_size=8)
    assert (report.images_annotated, report.failures) == (2, 1)
    assert tags_of(project, good) and tags_of(project, other) and not tags_of(project, bad)
    total, failures = AnnotationStore(project.database).list_failures(MODEL)
    assert total == 1
    assert (failures[0].image_id, failures[0].reason, failures[0].image_name) == (
        bad,
        "unreadable_image",
        "bad.png",
    )
    with project.database.read_session() as session:
        marked = set(session.scalars(select(ModelAnnotation.image_id)))
    assert marked == {good, other}

    add_solid_image(project, "bad-fixed.png", BLUE, size=(12, 12))  # a new image; bad one still broken
    again = AnnotationService(project, config).run([MODEL])
    assert again.images_selected == 2  # only the never-annotated ones: the broken one and the new one


def test_a_failure_is_cleared_once_the_image_annotates(
    project: Project, config: ConfigurationService, colour_model: Path
) -> None:
    image = add_solid_image(project, "fixme.png", RED)
    original = (project.images_dir / "fixme.png").read_bytes()
    (project.images_dir / "fixme.png").write_bytes(original[:40])
    AnnotationService(project, config).run([MODEL])
    assert count(project, AnnotationFailure) == 1
    (project.images_dir / "fixme.png").write_bytes(original)
    AnnotationService(project, config).run([MODEL])
    assert count(project, AnnotationFailure) == 0 and tags_of(project, image)


def test_stopped_run_resumes_without_duplicate_rows(
    project: Project, config: ConfigurationService, colour_model: Path
) -> None:
    ids = [add_solid_image(project, f"{i}.png", RED if i % 2 else BLUE, size=(16 + i, 16)) for i in range(7)]
    token = CancelToken()

    def stop_after_first_batch(done: int, total: int | None, message: str = "") -> None:
        if done >= 2:
            token.cancel()

    first = AnnotationService(project, config).run(
        [MODEL], batch_size=2, progress=stop_after_first_batch, cancel=token
    )
    assert first.cancelled and first.images_annotated == 2
    tags_after_first = count(project, Tag)

    second = AnnotationService(project, config).run([MODEL], batch_size=2)
    assert (second.images_selected, second.images_annotated) == (5, 5)
    assert count(project, ModelAnnotation) == 7 and count(project, Rating) == 7
    with project.database.read_session() as session:
        duplicates = session.execute(
            select(Tag.image_id, Tag.tag).group_by(Tag.image_id, Tag.tag).having(func.count() > 1)
        ).all()
    assert duplicates == []
    per_image = {image_id: len(tags_of(project, image_id)) for image_id in ids}
    assert sum(per_image.values()) == count(project, Tag) > tags_after_first

    rerun = AnnotationService(project, config).run([MODEL], "all", batch_size=3)
    assert rerun.images_annotated == 7
    assert {image_id: len(tags_of(project, image_id)) for image_id in ids} == per_image
    assert count(project, Rating) == 7


def test_ids_selection_and_processed_copy_preferred(
    project: Project, config: ConfigurationService, colour_model: Path
) -> None:
    red = add_solid_image(project, "red.png", RED)
    add_solid_image(project, "other.png", RED, size=(8, 8))
    processed = add_solid_image(project, "processed-blue.png", BLUE, size=(32, 32))
    with project.database.write_session() as session:
        session.add(ProcessedImage(image_id=red, resolution=512, path="images/red.png", width=24, height=16))
        session.add(
            ProcessedImage(
                image_id=red, resolution=1024, path="images/processed-blue.png", width=32, height=32
            )
        )
    report = AnnotationService(project, config).run([MODEL], [red, 9999])
    assert (report.selection, report.images_selected, report.images_annotated) == ("ids", 1, 1)
    assert "blue thing" in tags_of(project, red) and "red thing" not in tags_of(project, red)
    assert not tags_of(project, processed)


def test_batch_fixed_at_one_annotates_every_image_at_the_default_batch_size(
    project: Project, config: ConfigurationService, tmp_path: Path
) -> None:
    """WD v2 exports accept one image per run; the app's batch of 8 must still tag all of them,
    with the same tags as the free-batch model, and a `missing` re-run finds nothing left."""
    fixed = build_colour_tagger(tmp_path / "fixed", batch=1)
    free = build_colour_tagger(tmp_path / "free")
    config.annotator_config_path.write_text(
        "".join(
            f'[{name}]\nclass = "WDTagger"\nmodel_path = "{folder.as_posix()}"\n'
            for name, folder in (("fixed-1", fixed), ("free", free))
        )
    )
    ids = [add_solid_image(project, f"{i}.png", RED if i % 2 else BLUE, size=(16 + i, 16)) for i in range(11)]
    service = AnnotationService(project, config)
    report = service.run(["fixed-1", "free"], batch_size=8)
    assert (report.images_annotated, report.failures) == (22, 0)
    with project.database.read_session() as session:
        rows = session.execute(select(Tag.image_id, Tag.tag, Tag.confidence, Model.name).join(Model)).all()
    by_model = {
        name: {(image, tag, round(confidence, 5)) for image, tag, confidence, model in rows if model == name}
        for name in ("fixed-1", "free")
    }
    assert by_model["fixed-1"] == by_model["free"] and {row[0] for row in by_model["free"]} == set(ids)
    assert service.run(["fixed-1"]).images_selected == 0


def test_model_that_cannot_load_stops_the_run_and_marks_nothing(
    project: Project, config: ConfigurationService, colour_model: Path
) -> None:
    add_solid_image(project, "red.png", RED)
    config.annotator_config_path.write_text(
        config.annotator_config_path.read_text()
        + '\n[broken]\nclass = "WDTagger"\nmodel_path = "/nowhere/at/all"\n'
    )
    with pytest.raises(AiAnnotatorError, match="broken"):
        AnnotationService(project, config).run([MODEL, "broken"])
    assert count(project, ModelAnnotation) == 0 and count(project, Tag) == 0
    assert count(project, AnnotationFailure) == 0
    with pytest.raises(ValidationError, match="no model named"):
        AnnotationService(project, config).run(["nonexistent"])


def test_rethreshold_changes_acceptance_without_the_model(
    project: Project, config: ConfigurationService, colour_model: Path
) -> None:
    red = add_solid_image(project, "red.png", RED, size=(16, 16))  # square: no white padding
    AnnotationService(project, config).run([MODEL])
    shutil.rmtree(colour_model)  # nothing below may run the model
    with project.database.write_session() as session:
        session.add(Tag(image_id=red, model_id=None, source="manual", tag="kept", is_accepted=True))

    counts = AnnotationStore(project.database).rethreshold(MODEL, general=0.25, character=0.95)
    assert counts.changed == {"general": 1, "character": 1}
    tags = tags_of(project, red)
    assert tags["mid (tag)"].is_accepted and not tags["hatsune miku"].is_accepted
    assert tags["red thing"].is_accepted and tags["kept"].is_accepted

    back = AnnotationStore(project.database).rethreshold(MODEL, general=0.35, character=None)
    assert back.changed == {"general": 1}
    assert not tags_of(project, red)["mid (tag)"].is_accepted


def test_report_has_the_fields_api_models_fill(
    project: Project, config: ConfigurationService, colour_model: Path
) -> None:
    add_solid_image(project, "red.png", RED)
    data = AnnotationService(project, config).run([MODEL]).to_dict()
    for key in (
        "requests",
        "retries",
        "input_tokens",
        "output_tokens",
        "policy_violations",
        "violations_skipped",
    ):
        assert data[key] == 0
    assert data["per_model"][0]["name"] == MODEL


def test_call_annotate_library_keys_results_by_phash(
    config: ConfigurationService, colour_model: Path
) -> None:
    from PIL import Image

    images = [Image.new("RGB", (16, 16), RED), Image.new("RGB", (16, 16), BLUE)]
    results = call_annotate_library(build_registry(config), images, [MODEL], ["aa", "bb"])
    assert results["aa"][MODEL].rating == "general" and results["bb"][MODEL].rating == "explicit"
    with pytest.raises(ValidationError):
        call_annotate_library(build_registry(config), images, ["nope"], ["aa", "bb"])
