"""Removing images from a project: every row about them and their files go (the files to the
project's trash, never deleted) as one edit, and undo puts back exactly what was there, ids and
all. Failures in the middle (a trash folder that cannot be made, a move that fails, a run killed
before its commit) change nothing, or are put right by the next removal, undo or redo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import lorairo.services.edit_service as edit_service_module
from image_annotator_lib.core.types import AnnotationResult, TagPrediction
from lorairo.cli.main import main
from lorairo.database.edit_repository import NOT_REMOVED_WITH_IMAGE, REMOVED_WITH_IMAGE, EditRepository
from lorairo.database.schema import (
    AnnotationFailure,
    AnnotationRun,
    AnnotationStyle,
    Base,
    Caption,
    EditLog,
    ExportRejection,
    Image,
    ImageCrop,
    ImageEmbedding,
    ImageSimilarity,
    Model,
    ModelAnnotation,
    Rating,
    Score,
    Tag,
)
from lorairo.errors import DatabaseError, ValidationError
from lorairo.services.annotation_store import AnnotationStore
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditService, EditTarget
from lorairo.services.project_service import Project
from lorairo.services.registration_service import RegistrationService
from lorairo.services.search_service import SearchService
from lorairo.storage.trash import PendingMoves, TrashError, TrashFolder
from tests.factories import make_image_file

# Bookkeeping of the log and the change feed, not data about images.
UNCOMPARED = {"edit_log", "edit_changes", "store_changes", "alembic_version"}


def test_every_table_referring_to_images_is_handled() -> None:
    """A new table with a foreign key to images must be named in the removal (or left out on purpose)."""
    referring = {
        table.name
        for table in Base.metadata.sorted_tables
        for key in table.foreign_keys
        if key.column.table.name == "images"
    }
    assert referring == set(REMOVED_WITH_IMAGE) | set(NOT_REMOVED_WITH_IMAGE)


@pytest.fixture
def registered(
    project: Project, config: ConfigurationService, tmp_path: Path
) -> tuple[Project, list[int], Path]:
    """Four registered images (originals, 128 px processed copies, thumbnails) and, on the first
    three, a row in every table that refers to an image."""
    config.update_setting("image_processing", "target_resolutions", [128])
    source = tmp_path / "source"
    for index in range(4):
        make_image_file(source / f"pic{index}.png", (160 + 16 * index, 120), seed=index)
    report = RegistrationService(project, config).register([source])
    assert report.counts.registered == 4
    with project.database.read_session() as session:
        ids = list(session.scalars(select(Image.id).order_by(Image.name)))
    service = EditService(project)
    service.add_tags(EditTarget(ids=tuple(ids)), ["keep me", "red hair"], apply=True)
    service.reject_tags(EditTarget(ids=tuple(ids[:2])), ["red hair"], apply=True)
    service.reject_from_export(EditTarget(ids=(ids[1],)), reason="blurry", apply=True)
    with project.database.write_session() as session:
        model = Model(name="wd-tagger", type="tagger")
        embedder = Model(name="clip", type="embedder")
        run = AnnotationRun(model_name="wd-tagger", provider="local")
        session.add_all([model, embedder, run])
        session.flush()
        for n, image_id in enumerate(ids[:3]):
            session.add_all(
                [
                    Tag(image_id=image_id, model_id=model.id, tag="1girl", confidence=0.5 + n / 10),
                    Caption(image_id=image_id, model_id=model.id, caption=f"picture {n}"),
                    Score(image_id=image_id, model_id=model.id, score=5 + n),
                    Rating(image_id=image_id, model_id=model.id, rating="general", confidence=0.9),
                    ModelAnnotation(image_id=image_id, model_id=model.id),
                    AnnotationFailure(
                        image_id=image_id, model_name="gpt", provider="openai", failure_reason="timeout"
                    ),
                    AnnotationStyle(
                        image_id=image_id, model_id=model.id, run_id=run.id, style_name="s", style_hash="h"
                    ),
                    ImageCrop(image_id=image_id, x=0, y=0, width=100, height=100),
                    ImageEmbedding(
                        image_id=image_id,
                        model_id=embedder.id,
                        dimensions=4,
                        vector=bytes([n, 0, 255, 7] * 2),
                    ),
                ]
            )
        session.add(ImageSimilarity(image_id=ids[1], similar_to_id=ids[0], distance=3))
        session.add(ImageSimilarity(image_id=ids[3], similar_to_id=ids[2], distance=5))
        session.add(ExportRejection(image_id=ids[2], rejected_at=datetime(2026, 1, 2)))
    return project, ids, source


def state(project: Project) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (but the log's own), ordered by key, for exact comparisons."""
    out = {}
    with project.database.read_session() as session:
        for table in Base.metadata.sorted_tables:
            if table.name not in UNCOMPARED:
                keys = list(table.primary_key.columns)
                out[table.name] = [dict(r) for r in session.execute(select(table).order_by(*keys)).mappings()]
    return out


def files(project: Project) -> dict[str, bytes]:
    """Every file under the project's images folder and its trash, by path."""
    found = {}
    for root in (project.images_dir, project.trash_dir):
        if root.is_dir():
            for path in root.rglob("*"):
                if path.is_file() and path.name != "manifest.json" and ".staging" not in path.parts:
                    found[str(path.relative_to(project.root))] = path.read_bytes()
    return found


def image_files(project: Project, image_id: int) -> list[str]:
    with project.database.read_session() as session:
        image = session.get(Image, image_id)
        assert image is not None
        stored = [image.stored_path, image.thumbnail_path, *(p.path for p in image.processed)]
    return [p for p in stored if p]


def test_remove_undo_redo_restores_every_row_and_file(
    registered: tuple[Project, list[int], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, ids, _source = registered
    monkeypatch.setattr(edit_service_module, "BATCH", 2)  # the removal spans two batches
    removed = [ids[0], ids[1], ids[2]]
    stored = [p for image_id in removed for p in image_files(project, image_id)]
    assert len(stored) == 9  # original, thumbnail and one processed copy each
    before_rows, before_files = state(project), files(project)
    service = EditService(project)

    dry = service.remove_images(EditTarget(ids=tuple(removed)))
    assert not dry.applied and dry.images_changed == 3 and dry.files == 9 and dry.files_missing == 0
    assert dry.samples[ids[0]][0] == "remove pic0.png" and "tags x3" in dry.samples[ids[0]]
    assert state(project) == before_rows and files(project) == before_files

    report = service.remove_images(EditTarget(ids=tuple(removed)), apply=True)
    assert report.applied and report.edit_id is not None and report.files == 9
    assert report.rows_deleted == dry.rows_deleted  # the dry run counted what apply wrote
    after = state(project)
    assert [row["id"] for row in after["images"]] == [ids[3]]
    for table in REMOVED_WITH_IMAGE:
        assert all(row["image_id"] == ids[3] for row in after[table]), table
    assert after["image_similarities"] == []  # its other end was removed
    trash = project.trash_dir / str(report.edit_id)
    assert report.trash == str(trash)
    for path in stored:
        assert not project.file_path(path).exists() and (trash / path).is_file()
    assert sorted(before_files.values()) == sorted(files(project).values())  # moved, not lost

    undo = service.undo()
    assert undo.operation == "remove_images" and undo.edit_id == report.edit_id
    assert state(project) == before_rows and files(project) == before_files

    service.redo()
    assert state(project) == after
    service.undo()
    assert state(project) == before_rows and files(project) == before_files
    # the restored rows are live data again: an ordinary edit on them works and undoes
    service.add_tags(EditTarget(ids=(ids[0],)), ["back again"], apply=True)
    service.undo()
    assert state(project) == before_rows


def test_a_removed_file_registers_again_as_a_new_image(
    registered: tuple[Project, list[int], Path], config: ConfigurationService
) -> None:
    project, ids, source = registered
    service = EditService(project)
    with project.database.read_session() as session:
        sha = session.get(Image, ids[0]).sha256  # type: ignore[union-attr]
    service.remove_images(EditTarget(ids=(ids[0],)), apply=True)
    before_rows, before_files = state(project), files(project)

    again = RegistrationService(project, config).register([source / "pic0.png"])
    assert again.counts.registered == 1
    with project.database.read_session() as session:
        new = session.scalars(select(Image).where(Image.sha256 == sha)).one()
    assert project.file_path(new.stored_path).is_file()

    # the person emptied the trash by hand: settling must not take the new image's file for it
    for trashed in project.trash_dir.rglob("*"):
        if trashed.is_file() and trashed.name != "manifest.json":
            trashed.unlink()
    assert service.settle_trash() == 0
    assert project.file_path(new.stored_path).is_file()
    before_files = files(project)

    with pytest.raises(ValidationError, match=r"cannot undo .* in the project again as image #"):
        service.undo()
    with project.database.read_session() as session:
        assert session.scalars(select(Image.id).where(Image.sha256 == sha)).all() == [new.id]
    assert state(project)["tags"] == before_rows["tags"]
    assert {k: v for k, v in files(project).items() if "trash" in k} == {
        k: v for k, v in before_files.items() if "trash" in k
    }


def test_a_trash_folder_that_cannot_be_made_changes_nothing(
    registered: tuple[Project, list[int], Path],
) -> None:
    project, ids, _source = registered
    project.trash_dir.write_text("in the way")  # a file where the trash folder should be
    before_rows, before_files = state(project), files(project)
    with pytest.raises(TrashError, match="cannot write the trash folder"):
        EditService(project).remove_images(EditTarget(ids=(ids[0], ids[1])), apply=True)
    assert state(project) == before_rows and files(project) == before_files
    with project.database.read_session() as session:
        assert session.scalars(select(EditLog.operation)).all().count("remove_images") == 0


def test_a_move_failing_half_way_puts_back_what_moved(
    registered: tuple[Project, list[int], Path],
) -> None:
    project, ids, _source = registered
    with project.database.read_session() as session:
        next_edit = (max(session.scalars(select(EditLog.id)), default=0)) + 1
    thumbnail = image_files(project, ids[1])[1]
    blocker = project.trash_dir / str(next_edit) / thumbnail
    blocker.parent.mkdir(parents=True)
    blocker.write_bytes(b"already here")  # the second image's thumbnail cannot go in
    before_rows, before_files = state(project), files(project)
    with pytest.raises(TrashError, match="nothing was moved"):
        EditService(project).remove_images(EditTarget(ids=(ids[0], ids[1])), apply=True)
    assert state(project) == before_rows and files(project) == before_files


def test_a_failure_after_the_files_moved_moves_them_back(
    registered: tuple[Project, list[int], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, ids, _source = registered
    before_rows, before_files = state(project), files(project)

    def fail(*_args: object) -> None:
        raise DatabaseError("disk full")  # the database write after the files moved fails

    monkeypatch.setattr(EditRepository, "finish_edit", staticmethod(fail))
    with pytest.raises(DatabaseError, match="disk full"):
        EditService(project).remove_images(EditTarget(ids=(ids[2],)), apply=True)
    assert state(project) == before_rows and files(project) == before_files


KILLED_RUN = """
import os, sys
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditService, EditTarget
from lorairo.services.project_service import ProjectService
from lorairo.storage.trash import TrashFolder

real = TrashFolder.move_in
def move_then_die(self, stored):
    real(self, stored)
    os._exit(9)  # killed after the files moved, before the commit
TrashFolder.move_in = move_then_die
project = ProjectService(ConfigurationService()).open("t")
EditService(project).remove_images(EditTarget(ids=(int(sys.argv[1]),)), apply=True)
"""


def test_a_run_killed_before_its_commit_is_settled_by_the_next(
    registered: tuple[Project, list[int], Path],
) -> None:
    project, ids, _source = registered
    before_rows, before_files = state(project), files(project)
    stored = image_files(project, ids[0])
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(ids[0])], env=os.environ.copy(), check=False, timeout=120
    )
    assert killed.returncode == 9
    assert state(project) == before_rows  # the transaction never committed
    assert not project.file_path(stored[0]).exists()  # but the files are in the trash

    service = EditService(project)
    assert service.settle_trash() == len(stored)
    assert state(project) == before_rows and files(project) == before_files
    # and the next removal (which takes the same edit id) works
    report = service.remove_images(EditTarget(ids=(ids[0],)), apply=True)
    assert report.files == len(stored)
    service.undo()
    assert state(project) == before_rows and files(project) == before_files


KILLED_UNDO = """
import os
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditService
from lorairo.services.project_service import ProjectService
from lorairo.storage.trash import TrashFolder

real = TrashFolder.move_out
def move_then_die(self):
    real(self)
    os._exit(9)  # killed after the files came back, before the undo's commit
TrashFolder.move_out = move_then_die
project = ProjectService(ConfigurationService()).open("t")
EditService(project).undo()
"""


def test_an_undo_killed_before_its_commit_is_settled_by_the_next_call(
    registered: tuple[Project, list[int], Path],
) -> None:
    """The marker is written before the first file moves back, so the next call finds the cut-short
    undo among the many removals and puts its files back in the trash (the removal still holds)."""
    project, ids, _source = registered
    service = EditService(project)
    for image_id in ids[1:]:  # earlier removals, settled: their folders are not looked at again
        service.remove_images(EditTarget(ids=(image_id,)), apply=True)
    report = service.remove_images(EditTarget(ids=(ids[0],)), apply=True)
    assert report.edit_id is not None
    removed_rows, removed_files = state(project), files(project)
    assert PendingMoves(project.trash_dir).ids() == []

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_UNDO], env=os.environ.copy(), check=False, timeout=120
    )
    assert killed.returncode == 9
    assert state(project) == removed_rows  # the undo never committed
    assert PendingMoves(project.trash_dir).ids() == [report.edit_id]
    assert all(project.file_path(path).is_file() for path in image_files_in_trash(project, report.edit_id))

    assert service.settle_trash() == len(image_files_in_trash(project, report.edit_id))
    assert state(project) == removed_rows and files(project) == removed_files
    assert PendingMoves(project.trash_dir).ids() == []
    assert service.settle_trash() == 0


def image_files_in_trash(project: Project, edit_id: int) -> list[str]:
    return TrashFolder(project.trash_dir / str(edit_id), project.file_path).stored()


def test_a_trash_from_before_the_markers_is_settled_whole_once(
    registered: tuple[Project, list[int], Path],
) -> None:
    """A trash folder made before the pending markers (none there) may hold a cut-short move of
    any removal: the first settling looks at them all, then only at marked ones."""
    project, ids, _source = registered
    service = EditService(project)
    service.remove_images(EditTarget(ids=(ids[0],)), apply=True)
    service.remove_images(EditTarget(ids=(ids[1],)), apply=True)
    removed_rows, removed_files = state(project), files(project)
    (project.trash_dir / ".pending").rmdir()  # as an older version left it
    folders = sorted(int(p.name) for p in project.trash_dir.iterdir() if p.name.isdigit())
    first = TrashFolder(project.trash_dir / str(folders[0]), project.file_path)
    first.move_out()  # the files of a committed removal back in the project: a crash's leftovers

    assert service.settle_trash() == len(first.stored())
    assert state(project) == removed_rows and files(project) == removed_files
    assert PendingMoves(project.trash_dir).tracked()
    first.move_out()  # now unmarked leftovers are not looked for again (nothing pending)
    assert service.settle_trash() == 0


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    with pytest.raises(SystemExit) as exit_info:
        main(["--json", *args, "-p", "t"])
        raise SystemExit(0)
    out = capsys.readouterr().out.strip()
    return int(exit_info.value.code or 0), json.loads(out) if out else {}


def test_cli_dry_run_apply_and_undo(
    registered: tuple[Project, list[int], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    project, ids, _source = registered
    before_rows, before_files = state(project), files(project)
    code, dry = cli(capsys, "images", "remove", f"{ids[0]},{ids[3]}")
    assert code == 0 and dry["applied"] is False and dry["images_changed"] == 2 and dry["files"] == 6
    assert state(project) == before_rows

    code, dry = cli(capsys, "images", "remove", "--query", "tag:1girl")
    assert code == 0 and dry["images_matched"] == 3 and dry["edit_id"] is None

    code, applied = cli(capsys, "images", "remove", f"{ids[0]},{ids[3]}", "--apply")
    assert code == 0 and applied["applied"] is True and applied["files"] == 6
    assert applied["trash"] == str(project.trash_dir / str(applied["edit_id"]))
    assert [row["id"] for row in state(project)["images"]] == [ids[1], ids[2]]

    code, undone = cli(capsys, "edits", "undo")
    assert code == 0 and undone["operation"] == "remove_images" and undone["edit_id"] == applied["edit_id"]
    assert state(project) == before_rows and files(project) == before_files

    code, error = cli(capsys, "images", "remove", "--apply")
    assert code == 2 and "ids" in error["error"]["message"]
    code, error = cli(capsys, "images", "remove", "999")
    assert code == 2


def test_a_batch_finishing_after_its_image_was_removed_stores_the_rest(
    registered: tuple[Project, list[int], Path],
) -> None:
    """An annotate run that took an image before it was removed stores the others' results."""
    project, ids, _source = registered
    EditService(project).remove_images(EditTarget(ids=(ids[0],)), apply=True)
    repository = AnnotationStore(project.database)
    model_id = repository.ensure_model("late-tagger", provider="local", kind="tagger")
    counts = repository.save_results(
        model_id,
        "late-tagger",
        "local",
        [(image_id, AnnotationResult("late-tagger", tags=[TagPrediction("lake", 0.9)])) for image_id in ids],
    )
    assert counts.annotated == 3
    with project.database.read_session() as session:
        tagged = session.scalars(select(Tag.image_id).where(Tag.model_id == model_id)).all()
    assert sorted(tagged) == ids[1:]


def test_an_id_taken_since_the_removal_is_moved_aside_by_the_undo(
    registered: tuple[Project, list[int], Path],
) -> None:
    """SQLite gives the next row max(id) + 1, so an annotation after the removal takes the id of a
    removed tag row: the undo gives that newer row a new id and puts the removed one back at its
    own. (PostgreSQL's sequences never go back; the test holds there too.)"""
    project, ids, _source = registered
    service = EditService(project)
    with project.database.read_session() as session:
        top_tag = session.scalars(select(Tag).order_by(Tag.id.desc()).limit(1)).one()
        top_caption = session.scalars(select(Caption).order_by(Caption.id.desc()).limit(1)).one()
    assert top_tag.image_id == ids[2] and top_caption.image_id == ids[2]
    before = state(project)
    service.remove_images(EditTarget(ids=(ids[2],)), apply=True)
    repository = AnnotationStore(project.database)
    model_id = repository.ensure_model("later", provider="local", kind="captioner")
    later = AnnotationResult("later", tags=[TagPrediction("lake", 0.9)], caption="a lake at dusk")
    repository.save_results(model_id, "later", "local", [(ids[3], later)])
    if project.database.dialect == "sqlite":
        with project.database.read_session() as session:
            assert session.scalar(select(Tag.id).where(Tag.model_id == model_id)) == top_tag.id

    service.undo()
    after = state(project)
    for table, rows in before.items():
        assert all(row in after[table] for row in rows), table  # every removed row, id and all
    added = {table: [row for row in after[table] if row not in before[table]] for table in after}
    assert [row["tag"] for row in added["tags"]] == ["lake"] and added["tags"][0]["image_id"] == ids[3]
    assert [row["caption"] for row in added["captions"]] == ["a lake at dusk"]
    assert {table for table, rows in added.items() if rows} == {
        "tags",
        "captions",
        "models",
        "model_annotations",
        "tag_vocabulary",
    }
    assert SearchService(project).search('caption:"lake at dusk"').ids == [ids[3]]  # index kept up
    service.redo()
    service.undo()
    assert state(project) == after
