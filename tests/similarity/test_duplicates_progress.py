"""Finding duplicate groups reports progress in phases (indexing a stale cache, comparing
vectors, ranking groups) and stops at a cancel in any phase, leaving the store and the vector cache
as they were: no edit, no rejection, no half-built index; the next search finds the same groups."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from PIL import Image as PILImage

from lorairo.cli.main import main
from lorairo.database.edit_repository import EditRepository
from lorairo.database.embedding_repository import EmbeddingRepository, save_embeddings
from lorairo.database.schema import Model
from lorairo.errors import OperationCancelled
from lorairo.services.progress import CancelToken, ProgressCallback
from lorairo.services.project_service import Project
from lorairo.services.similarity_service import CACHE_DIR, SimilarityService
from tests.factories import add_image_row

MODEL = "tiny-embedder"
PHASES = ["indexing vectors", "comparing vectors", "ranking groups"]


def add_vectors(project: Project, vectors: np.ndarray) -> list[int]:
    """One image row per vector (one small file shared), stored as `MODEL`'s embeddings."""
    path = project.images_dir / "tile.png"
    if not path.exists():
        PILImage.new("RGB", (8, 8), (10, 20, 30)).save(path)
    with project.database.read_session() as session:
        model_id = EmbeddingRepository.model_id(session, MODEL)
    if model_id is None:
        with project.database.write_session() as session:
            model = Model(name=MODEL, type="embedder")
            session.add(model)
            session.flush()
            model_id = model.id
    ids = []
    for vector in vectors:
        key = hashlib.sha256(vector.tobytes()).hexdigest()
        name = f"{key[:12]}.png"
        ids.append(
            add_image_row(project.database, path, sha256=key, name=name, stored_path=name, file_path=name)
        )
    with project.database.write_session() as session:
        save_embeddings(session, model_id, list(zip(ids, vectors, strict=True)))
    return ids


def near_pairs(project: Project) -> list[list[int]]:
    """20 unrelated directions, the first 8 with a near copy: 8 groups of two."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=(20, 32)).astype(np.float32)
    copies = base[:8] + rng.normal(scale=0.01, size=(8, 32)).astype(np.float32)
    ids = add_vectors(project, np.concatenate([base, copies]))
    return [sorted([ids[i], ids[20 + i]]) for i in range(8)]


def phases_of(calls: list[tuple[int, int | None, str]]) -> list[str]:
    return list(dict.fromkeys(message for _, _, message in calls))


def test_grouping_reports_each_phase_to_its_end(project: Project) -> None:
    expected = near_pairs(project)
    calls: list[tuple[int, int | None, str]] = []
    report = SimilarityService(project).duplicates(
        threshold=0.95, model=MODEL, progress=lambda d, t, m="": calls.append((d, t, m))
    )
    assert sorted(sorted(m.id for m in g.images) for g in report.groups) == sorted(expected)
    assert phases_of(calls) == PHASES
    for phase in PHASES:
        steps = [(done, total) for done, total, message in calls if message == phase]
        assert [done for done, _ in steps] == sorted(done for done, _ in steps)  # never backwards
        assert steps[-1][0] == steps[-1][1] and steps[-1][1]  # reaches its total
    again: list[tuple[int, int | None, str]] = []  # the cache is fresh now: no indexing phase
    SimilarityService(project).duplicates(
        threshold=0.95, model=MODEL, progress=lambda d, t, m="": again.append((d, t, m))
    )
    assert phases_of(again) == PHASES[1:]


@pytest.mark.parametrize("phase", PHASES)
def test_a_cancel_in_any_phase_stops_it_and_changes_nothing(project: Project, phase: str) -> None:
    expected = near_pairs(project)
    service = SimilarityService(project)
    service.index(MODEL)  # a cached index, then one more vector: the cache is stale
    cache = project.root / CACHE_DIR
    [folder] = list(cache.iterdir())
    built = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    add_vectors(project, np.random.default_rng(9).normal(size=(1, 32)).astype(np.float32))

    cancel = CancelToken()
    calls: list[tuple[int, int | None, str]] = []

    def progress(done: int, total: int | None, message: str = "") -> None:
        calls.append((done, total, message))
        if message == phase:
            cancel.cancel()

    with pytest.raises(OperationCancelled):
        SimilarityService(project).duplicates(
            threshold=0.95, model=MODEL, keep_best=True, apply=True, progress=progress, cancel=cancel
        )
    assert phases_of(calls)[-1] == phase  # it stopped in that phase
    assert len([c for c in calls if c[2] == phase]) == 1  # at the very next step
    assert [p.name for p in cache.iterdir()] == [folder.name]  # no half-built index left
    if phase == PHASES[0]:  # the stale index stays as it was
        assert json.loads((folder / "meta.json").read_text(encoding="utf-8")) == built
    with project.database.read_session() as session:
        assert EditRepository.entries(session, 10) == []
        facts = EmbeddingRepository.facts(session, [i for g in expected for i in g], project.score_kind)
    assert not any(fact.export_rejected for fact in facts.values())

    report = SimilarityService(project).duplicates(threshold=0.95, model=MODEL, keep_best=True)
    assert sorted(sorted(m.id for m in g.images) for g in report.groups) == sorted(expected)
    assert report.keep_best is not None and report.keep_best.images_changed == 8


def test_ctrl_c_in_the_cli_exits_cleanly_and_changes_nothing(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real SIGINT, sent the moment the bar first moves: the command's own handler sets the
    cancel token, the search stops, one JSON object says so and the exit code is 130."""
    expected = near_pairs(project)
    reports: list[str] = []

    @contextmanager
    def interrupting_bar(description: str, unit: str = "images") -> Iterator[ProgressCallback]:
        def progress(done: int, total: int | None, message: str = "") -> None:
            reports.append(message)
            if len(reports) == 1:
                os.kill(os.getpid(), signal.SIGINT)

        yield progress

    monkeypatch.setattr("lorairo.cli.register_commands.progress_bar", interrupting_bar)
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["--json", "images", "duplicates", "--semantic", "--keep-best", "--apply", "-m", MODEL, "-p", "t"]
        )
    assert exit_info.value.code == 130
    assert json.loads(capsys.readouterr().out) == {"project": "t", "cancelled": True, "changed": False}
    assert len(reports) == 1  # stopped at the next step
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler was put back
    with project.database.read_session() as session:
        assert EditRepository.entries(session, 10) == []
        facts = EmbeddingRepository.facts(session, [i for g in expected for i in g], project.score_kind)
    assert not any(fact.export_rejected for fact in facts.values())
