"""Export on a small real project: on-disk layouts, curation rules, safety."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from lorairo.database.schema import Tag
from lorairo.errors import ImageProcessingError, OperationCancelled, ValidationError
from lorairo.export.options import ExportOptions
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.export_service import ExportService
from lorairo.services.progress import CancelToken
from tests.export.builders import Builder, Demo

FIRST_TAGS = "blue eyes, 1girl, hatsune miku, long hair, hat (object), highres, open mouth"


def run(demo: Demo, config: ConfigurationService, target: Path, **options: Any) -> Any:
    service = ExportService(demo.builder.project, config)
    return service.export(ExportOptions(target=target, **options))


def listing(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def siblings(target: Path) -> set[str]:
    """What sits beside the target, so a leftover staging or backup folder would show."""
    return {path.name for path in target.parent.iterdir() if path.name != "lorairo-home"}


def test_kohya_layout_and_text(demo: Demo, config: ConfigurationService, tmp_path: Path) -> None:
    target = tmp_path / "out"
    report = run(demo, config, target)
    assert listing(target) == {
        "001.jpg",
        "001.txt",
        "001.caption",
        "001_2.jpg",
        "001_2.txt",
        "lorairo_export.json",
    }
    assert (target / "001.txt").read_text() == FIRST_TAGS + "\n"
    assert (target / "001.caption").read_text() == "a woman singing on stage\n"
    assert (target / "001_2.txt").read_text() == "1boy, outdoors\n"
    stored = demo.builder.project.root / "images/set_a/001.jpg"
    assert (target / "001.jpg").read_bytes() == stored.read_bytes()
    assert report.exported == 2
    assert report.skipped == {"no accepted tags": 1}
    assert report.skipped_examples == {"no accepted tags": [demo.untagged]}
    assert report.tags_per_image == {"min": 2, "median": 4.5, "max": 7}
    assert ("1girl", 1) in report.top_tags


def test_manifest_lists_every_file_with_its_hash(
    demo: Demo, config: ConfigurationService, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    run(demo, config, target, formats=("kohya", "hf"), query=None)
    manifest = json.loads((target / "lorairo_export.json").read_text())
    assert manifest["tool"] == "lorairo"
    assert manifest["project"] == "demo"
    assert manifest["counts"]["exported"] == 2
    assert manifest["options"]["formats"] == ["kohya", "hf"]
    files = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    assert set(files) == listing(target) - {"lorairo_export.json"}
    for relative, digest in files.items():
        assert hashlib.sha256((target / relative).read_bytes()).hexdigest() == digest


def test_rejected_absent_manual_wins_and_meta_dropped(
    demo: Demo, config: ConfigurationService, tmp_path: Path
) -> None:
    run(demo, config, tmp_path / "out", drop_meta=True)
    tags = (tmp_path / "out" / "001.txt").read_text().strip().split(", ")
    assert "blurry" not in tags  # rejected
    assert "smile" not in tags  # the model said yes, the manual row rejected it
    assert tags[0] == "blue eyes"  # manual addition, no confidence, counts as certain
    assert "highres" not in tags  # meta


def test_trigger_words_first_and_keep_tokens_separator(
    demo: Demo, config: ConfigurationService, tmp_path: Path
) -> None:
    run(demo, config, tmp_path / "a", trigger=("ohwx woman",))
    assert (tmp_path / "a" / "001.txt").read_text() == f"ohwx woman, {FIRST_TAGS}\n"
    run(demo, config, tmp_path / "b", trigger=("ohwx woman", "sks"), keep_tokens_separator=True)
    assert (tmp_path / "b" / "001_2.txt").read_text() == "ohwx woman, sks ||| 1boy, outdoors\n"


def test_thresholds_models_and_max_tags(demo: Demo, config: ConfigurationService, tmp_path: Path) -> None:
    run(demo, config, tmp_path / "a", thresholds={"general": 0.75, "character": 0.95})
    assert (tmp_path / "a" / "001.txt").read_text() == "blue eyes, 1girl, long hair, highres\n"
    run(demo, config, tmp_path / "b", tags_from=("other-tagger",))
    assert (tmp_path / "b" / "001.txt").read_text() == "blue eyes, hat (object)\n"
    assert (tmp_path / "b" / "001_2.txt").read_text() == "outdoors\n"
    run(demo, config, tmp_path / "c", max_tags=2, character_first=True)
    assert (tmp_path / "c" / "001.txt").read_text() == "hatsune miku, blue eyes\n"


def test_order_style_rating_and_quality(demo: Demo, config: ConfigurationService, tmp_path: Path) -> None:
    run(
        demo,
        config,
        tmp_path / "out",
        order="alphabet",
        underscores=True,
        escape_parens=True,
        rating_tag=True,
        quality_tags=True,
    )
    assert (tmp_path / "out" / "001.txt").read_text() == (
        "rating:general, masterpiece, 1girl, blue_eyes, hat_\\(object\\), hatsune_miku, highres, long_hair, open_mouth\n"
    )


def test_overlays_change_the_export_but_not_the_database(
    demo: Demo, config: ConfigurationService, tmp_path: Path
) -> None:
    def dump() -> list[tuple[Any, ...]]:
        with demo.builder.project.database.read_session() as session:
            rows = session.execute(select(Tag.id, Tag.tag, Tag.is_accepted, Tag.rejected_at, Tag.updated_at))
            return [tuple(row) for row in rows]

    before = dump()
    run(
        demo,
        config,
        tmp_path / "out",
        exclude_tags=("Long Hair",),
        replace_tags={"1girl": "1woman", "1boy": "1man"},
    )
    assert (
        tmp_path / "out" / "001.txt"
    ).read_text() == "blue eyes, 1woman, hatsune miku, hat (object), highres, open mouth\n"
    assert (tmp_path / "out" / "001_2.txt").read_text() == "1man, outdoors\n"
    assert dump() == before


def test_caption_choices_and_text_modes(demo: Demo, config: ConfigurationService, tmp_path: Path) -> None:
    run(demo, config, tmp_path / "newest", caption="newest")
    assert (tmp_path / "newest" / "001.caption").read_text() == "a girl with long hair\n"
    run(demo, config, tmp_path / "caption", text_mode="caption", trigger=("ohwx",))
    assert listing(tmp_path / "caption") == {"001.jpg", "001.caption", "lorairo_export.json"}
    assert (tmp_path / "caption" / "001.caption").read_text() == "ohwx, a woman singing on stage\n"
    run(demo, config, tmp_path / "append", text_mode="append", caption="florence")
    assert (tmp_path / "append" / "001.txt").read_text() == f"{FIRST_TAGS}, a girl with long hair\n"
    assert not (tmp_path / "append" / "001.caption").exists()


def test_kohya_json_and_jsonl_documented_keys(
    demo: Demo, config: ConfigurationService, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    run(demo, config, target, formats=("kohya-json", "jsonl"), trigger=("ohwx",))
    metadata = json.loads((target / "kohya_metadata.json").read_text())
    assert metadata == {
        "001.jpg": {"caption": "ohwx, a woman singing on stage", "tags": FIRST_TAGS},
        "001_2.jpg": {"tags": "ohwx, 1boy, outdoors"},
    }
    lines = [json.loads(line) for line in (target / "kohya_metadata.jsonl").read_text().splitlines()]
    assert [set(line) for line in lines] == [{"image_path", "caption", "tags", "image_size"}] * 2
    assert lines[0] == {
        "image_path": "001.jpg",
        "caption": "ohwx, a woman singing on stage",
        "tags": FIRST_TAGS,
        "image_size": [64, 48],
    }
    assert lines[1]["caption"] is None
    run(demo, config, tmp_path / "full", formats=("kohya-json",), full_path=True)
    keys = set(json.loads((tmp_path / "full" / "kohya_metadata.json").read_text()))
    assert keys == {str(tmp_path / "full" / "001.jpg"), str(tmp_path / "full" / "001_2.jpg")}


def test_dataset_toml(demo: Demo, config: ConfigurationService, tmp_path: Path) -> None:
    target = tmp_path / "out"
    run(demo, config, target, dataset_toml=True, trigger=("ohwx", "woman"), num_repeats=10, resolution=None)
    config_toml = tomllib.loads((target / "dataset_config.toml").read_text())
    assert config_toml["general"]["caption_extension"] == ".txt"
    dataset = config_toml["datasets"][0]
    assert dataset["resolution"] == 1024 and dataset["enable_bucket"] is True
    subset = dataset["subsets"][0]
    assert subset == {
        "image_dir": ".",
        "num_repeats": 10,
        "is_reg": False,
        "keep_tokens": 2,
        "caption_extension": ".txt",
        "class_tokens": "ohwx woman",
    }
    with pytest.raises(ValidationError):
        run(demo, config, tmp_path / "bad", formats=("hf",), dataset_toml=True)


def test_names_by_id_and_sequence(demo: Demo, config: ConfigurationService, tmp_path: Path) -> None:
    run(demo, config, tmp_path / "id", naming="id")
    assert {f"{demo.first}.jpg", f"{demo.second}.txt"} <= listing(tmp_path / "id")
    run(demo, config, tmp_path / "seq", naming="sequence", ids=(demo.second, demo.first))
    assert (tmp_path / "seq" / "000001.txt").read_text() == "1boy, outdoors\n"
    assert (tmp_path / "seq" / "000002.txt").read_text() == FIRST_TAGS + "\n"


def test_ids_selection_reports_missing(demo: Demo, config: ConfigurationService, tmp_path: Path) -> None:
    report = run(demo, config, tmp_path / "out", ids=(demo.second, 9999))
    assert report.exported == 1
    assert report.skipped == {"not found": 1}


def test_hardlink_and_reencode(demo: Demo, config: ConfigurationService, tmp_path: Path) -> None:
    run(demo, config, tmp_path / "link", link=True)
    stored = demo.builder.project.root / "images/set_a/001.jpg"
    assert (tmp_path / "link" / "001.jpg").stat().st_ino == stored.stat().st_ino
    run(demo, config, tmp_path / "webp", image_format="webp")
    with PILImage.open(tmp_path / "webp" / "001.webp") as image:
        assert image.format == "WEBP" and image.size == (64, 48)
    with pytest.raises(ValidationError):
        ExportOptions(link=True, image_format="png")


def test_resolution_uses_processed_copy_or_resizes(
    builder: Builder, config: ConfigurationService, tmp_path: Path
) -> None:
    with_copy = builder.image("a", "big.png", seed=4, size=(1024, 768))
    without = builder.image("a", "other.png", seed=5, size=(1024, 768))
    for image_id in (with_copy, without):
        builder.tag(image_id, "scenery", model="wd-tagger", confidence=0.9)
    processed = builder.processed(with_copy, 512, (512, 384), seed=6)
    service = ExportService(builder.project, config)
    service.export(ExportOptions(target=tmp_path / "out", resolution=512, formats=("kohya", "jsonl")))
    assert (tmp_path / "out" / "big.png").read_bytes() == processed.read_bytes()
    with PILImage.open(tmp_path / "out" / "other.png") as image:
        assert image.size == (512, 384)
    sizes = [
        json.loads(line)["image_size"]
        for line in (tmp_path / "out" / "kohya_metadata.jsonl").read_text().splitlines()
    ]
    assert sizes == [[512, 384], [512, 384]]


def test_non_empty_target_refused(demo: Demo, config: ConfigurationService, tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.md").write_text("mine")
    with pytest.raises(ValidationError, match="not empty"):
        run(demo, config, target)
    assert listing(target) == {"notes.md"}
    assert siblings(target) == {"out"}


def test_overwrite_replaces_only_what_the_manifest_lists(
    demo: Demo, config: ConfigurationService, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    run(demo, config, target, naming="id")
    (target / "notes.md").write_text("mine")
    run(demo, config, target, ids=(demo.first,), overwrite=True)
    assert listing(target) == {"notes.md", "001.jpg", "001.txt", "001.caption", "lorairo_export.json"}
    assert (target / "notes.md").read_text() == "mine"
    assert siblings(target) == {"out"}


def test_overwrite_refuses_to_clobber_foreign_files(
    demo: Demo, config: ConfigurationService, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "001.txt").write_text("hand written")
    with pytest.raises(ValidationError, match="did not write"):
        run(demo, config, target, overwrite=True)
    assert listing(target) == {"001.txt"}
    assert (target / "001.txt").read_text() == "hand written"
    assert siblings(target) == {"out"}


def test_cancelled_export_leaves_target_untouched(
    builder: Builder, config: ConfigurationService, tmp_path: Path
) -> None:
    for index in range(120):
        image_id = builder.image("many", f"{index:03d}.png", seed=index, size=(16, 16))
        builder.tag(image_id, "solo", model="wd-tagger", confidence=0.9)
    target = tmp_path / "out"
    run_options = ExportOptions(target=target)
    ExportService(builder.project, config).export(run_options)
    before = {name: (target / name).read_bytes() for name in listing(target)}
    token = CancelToken()
    seen: list[int] = []

    def progress(done: int, total: int | None, message: str = "") -> None:
        seen.append(done)
        token.cancel()

    with pytest.raises(OperationCancelled):
        ExportService(builder.project, config).export(
            ExportOptions(target=target, overwrite=True, trigger=("new",)), progress, token
        )
    assert seen and seen[0] < 120
    assert {name: (target / name).read_bytes() for name in listing(target)} == before
    assert siblings(target) == {"out"}


def test_failed_export_leaves_no_half_dataset(
    demo: Demo, config: ConfigurationService, tmp_path: Path
) -> None:
    (demo.builder.project.root / "images/set_b/001.jpg").write_bytes(b"not an image")
    target = tmp_path / "out"
    with pytest.raises(ImageProcessingError):
        run(demo, config, target, image_format="png")
    assert not target.exists()
    assert siblings(target) == set()


def test_missing_image_file_is_skipped(demo: Demo, config: ConfigurationService, tmp_path: Path) -> None:
    (demo.builder.project.root / "images/set_b/001.jpg").unlink()
    report = run(demo, config, tmp_path / "out")
    assert report.exported == 1
    assert report.skipped == {"no accepted tags": 1, "image file missing": 1}


def test_preview_matches_the_written_files(demo: Demo, config: ConfigurationService, tmp_path: Path) -> None:
    service = ExportService(demo.builder.project, config)
    options = ExportOptions(target=tmp_path / "out", trigger=("ohwx",))
    preview = service.preview(demo.first, options)
    service.export(options)
    assert preview.text is not None and preview.text + "\n" == (tmp_path / "out" / "001.txt").read_text()
    assert preview.caption == "a woman singing on stage"
    assert service.preview(demo.untagged, options).skip_reason == "no accepted tags"
    assert service.count(options) == 3


def test_unknown_model_rejected(demo: Demo, config: ConfigurationService, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="unknown model"):
        run(demo, config, tmp_path / "out", tags_from=("nope",))
    with pytest.raises(ValidationError, match="caption source"):
        run(demo, config, tmp_path / "out", caption="nope")
    assert not (tmp_path / "out").exists()


def test_default_target_is_under_export_dir(demo: Demo, config: ConfigurationService) -> None:
    report = ExportService(demo.builder.project, config).export(ExportOptions())
    assert report.target.parent == config.export_dir.absolute()
    assert report.target.name.startswith("demo-")
    assert (report.target / "001.txt").is_file()


def test_query_selects_images_like_search(demo: Demo, config: ConfigurationService, tmp_path: Path) -> None:
    report = run(demo, config, tmp_path / "out", query="tag:1boy")
    assert report.exported == 1
    assert listing(tmp_path / "out") == {"001.jpg", "001.txt", "lorairo_export.json"}
    assert (tmp_path / "out" / "001.txt").read_text() == "1boy, outdoors\n"
    assert ExportService(demo.builder.project, config).count(ExportOptions(query="-tag:1boy")) == 2
    manifest = json.loads((tmp_path / "out" / "lorairo_export.json").read_text())
    assert manifest["query"] == "tag:1boy"
