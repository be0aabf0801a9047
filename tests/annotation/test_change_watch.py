"""The change feed: a watcher in one process learns of results another process stores."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from lorairo.database.change_feed import _own, bump
from lorairo.database.schema import StoreChange
from lorairo.services.annotation_service import AnnotationService
from lorairo.services.change_watch import ChangeWatcher
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.progress import CancelToken
from lorairo.services.project_service import Project
from tests.annotation.helpers import BLUE, RED, add_solid_image


def test_stored_results_move_the_counter_and_a_watcher_sees_them(
    project: Project, config: ConfigurationService, colour_model: Path
) -> None:
    for i in range(4):
        add_solid_image(project, f"{i}.png", RED if i % 2 else BLUE)
    watcher = ChangeWatcher(project, poll_seconds=0.02)
    before = watcher.version()
    assert watcher.wait(before, 0.05) == before  # nothing happened: it times out unchanged

    seen: list[int] = []
    cancel = CancelToken()
    thread = threading.Thread(target=watcher.watch, args=(seen.append, cancel, 0.05))
    thread.start()
    AnnotationService(project, config).run(["colour-tagger"], batch_size=2)  # two stored batches
    deadline = time.monotonic() + 10
    while (not seen or seen[-1] < before + 2) and time.monotonic() < deadline:
        time.sleep(0.01)
    cancel.cancel()
    thread.join(timeout=10)
    assert seen and seen[-1] == before + 2 and seen == sorted(seen)


def test_a_change_made_by_another_process_wakes_a_waiting_watcher(
    project: Project, config: ConfigurationService, colour_model: Path
) -> None:
    add_solid_image(project, "a.png", RED)
    watcher = ChangeWatcher(project, poll_seconds=0.02)
    before = watcher.version()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lorairo",
            "--json",
            "annotate",
            "run",
            "-p",
            project.name,
            "-m",
            "colour-tagger",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    after = watcher.wait(before, 120)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert after == before + 1


def test_a_tracking_watcher_tells_this_process_s_commits_from_others(project: Project) -> None:
    """Own commits are not foreign; a rolled-back bump is not ours (the next writer reuses its
    number); a change counted without `bump` stands for another process's."""
    database = project.database
    feed = ChangeWatcher(project, poll_seconds=0.02, ignore_own=True)
    try:
        start = feed.version()
        with database.write_session() as session:
            bump(session)
        assert feed.version() == start + 1
        assert not feed.foreign(start, start + 1)

        with pytest.raises(RuntimeError), database.write_session() as session:
            bump(session)
            raise RuntimeError("rolled back")
        with database.write_session() as session:  # "another process": no bump(), no record
            session.execute(update(StoreChange).values(version=StoreChange.version + 1))
        assert feed.version() == start + 2
        assert feed.foreign(start + 1, start + 2)

        with database.write_session() as session:
            bump(session)
        with database.write_session() as session:
            session.execute(update(StoreChange).values(version=StoreChange.version + 1))
        assert feed.foreign(start + 2, start + 4), "one of the two was another's"
    finally:
        feed.close()
    with database.write_session() as session:  # nobody tracks now: nothing is remembered
        bump(session)
    assert not _own
