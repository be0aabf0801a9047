"""TagService and the save-path wiring: real tag DB files, real project DB, real ONNX tagger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from image_annotator_lib.local.session_cache import default_session_cache
from lorairo.database.schema import Tag
from lorairo.services.annotation_service import AnnotationService
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import ProjectService
from lorairo.services.registration_service import RegistrationService
from lorairo.services.tag_service import TagDatabaseUnavailable, TagService
from tests.annotation.helpers import RED, add_solid_image
from tests.annotation.onnx_builders import build_colour_tagger
from tests.factories import make_image_file
from tests.tags.genai_fixture import write_genai_sqlite

CSV = (
    'long_hair,0,3000000,"longhair"\nred,0,90000,"red_thing"\nhatsune_miku,4,100000,"miku"\nabsurdres,5,10,\n'
)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[TagService]:
    tags = TagService(ConfigurationService())
    yield tags
    tags.close()


@pytest.fixture
def loaded(service: TagService, tmp_path: Path) -> TagService:
    csv = tmp_path / "danbooru.csv"
    csv.write_text(CSV, encoding="utf-8")
    service.import_file(csv)
    return service


def test_without_a_tag_db_only_cleaning_happens(service: TagService) -> None:
    assert not service.available()
    assert service.resolve_aliases(["longhair", "Long_Hair"]) == {
        "longhair": "longhair",
        "Long_Hair": "Long Hair",
    }
    stored = service.normalize_for_storage(["long_hair", "long hair", ""])
    assert [(s.tag, s.raw_tag, s.type) for s in stored] == [("long hair", "long_hair", None)]
    assert service.suggest_for_manual("longhair") is None
    assert service.autocomplete("lo") == []
    assert not service.directory.exists()  # asking never creates a database


def test_storage_form_resolves_aliases_and_keeps_raw(loaded: TagService) -> None:
    stored = loaded.normalize_for_storage(["longhair", "Long_Hair", "miku", "my_own", "<lora:x_y:1>"])
    assert [(s.tag, s.raw_tag, s.type) for s in stored] == [
        ("long hair", "longhair", "general"),
        ("hatsune miku", "miku", "character"),
        ("my own", "my_own", None),
        ("<lora:x_y:1>", "<lora:x_y:1>", None),
    ]
    assert loaded.tag_types(["absurdres", "nothing"]) == {"absurdres": "meta", "nothing": None}
    assert [s.tag for s in loaded.autocomplete("mik")] == ["hatsune miku"]


def test_manual_tags_get_a_suggestion_only(loaded: TagService) -> None:
    suggestion = loaded.suggest_for_manual("longhair")
    assert suggestion is not None and suggestion.tag == "long hair"
    assert loaded.suggest_for_manual("long hair") is None
    assert loaded.suggest_for_manual("never heard of it") is None


def test_install_offline_uses_cached_download_and_fails_clearly_without(
    service: TagService, tmp_path: Path
) -> None:
    with pytest.raises(TagDatabaseUnavailable, match="tags db install"):
        service.install("someone/tags", "db.sqlite")
    commit = "a" * 40
    repo_dir = service.directory / "downloads" / "datasets--someone--tags"
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(commit)
    (repo_dir / "snapshots" / commit).mkdir(parents=True)
    write_genai_sqlite(repo_dir / "snapshots" / commit / "db.sqlite")
    report = service.install("someone/tags", "db.sqlite")
    assert not report.skipped and report.imported is not None and report.imported.tags == 3
    assert service.resolve_aliases(["witches_hat"]) == {"witches_hat": "witch hat"}
    assert service.install("someone/tags", "db.sqlite").skipped


def test_model_tags_are_normalised_when_saved(tmp_path: Path) -> None:
    config = ConfigurationService()
    csv = tmp_path / "danbooru.csv"
    csv.write_text(CSV, encoding="utf-8")
    tags = TagService(config)
    tags.import_file(csv)
    tags.close()
    folder = build_colour_tagger(tmp_path / "models" / "colour")
    config.annotator_config_path.write_text(
        f'[colour-tagger]\nclass = "WDTagger"\nmodel_path = "{folder.as_posix()}"\n', encoding="utf-8"
    )
    project = ProjectService(config).create("t")
    default_session_cache.clear()
    try:
        image_id = add_solid_image(project, "red.png", RED)
        AnnotationService(project, config).run(["colour-tagger"])
        with project.database.read_session() as session:
            rows = {r.raw_tag: r.tag for r in session.scalars(select(Tag).where(Tag.image_id == image_id))}
    finally:
        project.close()
        default_session_cache.clear()
    assert rows["red_thing"] == "red"  # alias resolved
    assert rows["hatsune_miku"] == "hatsune miku"
    assert rows["mid_(tag)"] == "mid (tag)"  # unknown: cleaned only


def test_sidecar_tags_are_normalised_when_registered(tmp_path: Path) -> None:
    config = ConfigurationService()
    csv = tmp_path / "danbooru.csv"
    csv.write_text(CSV, encoding="utf-8")
    tags = TagService(config)
    tags.import_file(csv)
    tags.close()
    source = tmp_path / "incoming"
    make_image_file(source / "a.png", size=(64, 64), seed=3)
    (source / "a.txt").write_text("Longhair, red_thing, miku, my_oc, long hair", encoding="utf-8")
    project = ProjectService(config).create("reg")
    try:
        RegistrationService(project, config).register([source])
        with project.database.read_session() as session:
            rows = [(r.tag, r.raw_tag) for r in session.scalars(select(Tag).order_by(Tag.position))]
    finally:
        project.close()
    assert rows == [
        ("long hair", "Longhair"),
        ("red", "red_thing"),
        ("hatsune miku", "miku"),
        ("my oc", "my_oc"),
    ]
