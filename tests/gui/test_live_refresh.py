"""The window follows what other processes store: a CLI run or a worker writes, the grid, the
inspector and the facets show it, without losing the selection, the scroll or a caption being
typed. On SQLite the follower polls the change counter; on PostgreSQL it waits on LISTEN/NOTIFY
(`store_engine` runs each test on both)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pytestqt.qtbot import QtBot

from lorairo.gui.main_window import MainWindow
from lorairo.gui.widgets.tag_editor import TAG_ROLE
from tests.factories import make_image_file
from tests.gui.conftest import IMAGES, PROJECT

WAIT_MS = 60_000  # a subprocess start-up (imports) plus one poll; generous for a loaded machine


def _elsewhere(code: str) -> None:
    """Run `code` in another Python process on the demo project (`project`, `EditService`,
    `EditTarget` in scope), as a worker or a script on another machine would."""
    prelude = (
        "from lorairo.services.configuration_service import ConfigurationService\n"
        "from lorairo.services.edit_service import EditService, EditTarget\n"
        "from lorairo.services.project_service import ProjectService\n"
        f"project = ProjectService(ConfigurationService()).open({PROJECT!r})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + code + "\nproject.close()\n"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def _cli(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lorairo", "--json", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def _selected_rows(window: MainWindow) -> list[int]:
    return sorted(index.row() for index in window.view.selectionModel().selectedIndexes())


def _editor_tags(window: MainWindow) -> list[str]:
    editor = window.inspector.tag_editor
    return [editor.list.item(row).data(TAG_ROLE) for row in range(editor.list.count())]


def _show(qtbot: QtBot, window: MainWindow, row: int) -> int:
    window.grid.select_rows([row])
    image_id = window.model.item(row).id
    qtbot.waitUntil(lambda: window.inspector.image_id == image_id, timeout=10_000)
    return image_id


def test_tags_added_by_the_cli_appear_in_grid_inspector_and_facets(
    store_engine: str, qtbot: QtBot, window: MainWindow
) -> None:
    image_id = _show(qtbot, window, 2)
    resets: list[bool] = []
    window.model.modelReset.connect(lambda: resets.append(True))
    window.inspector.tag_editor.input.setText("half-typ")  # a tag being typed stays in its box
    window.grid.set_thumbnail_size(512)  # big cells: the ten images need scrolling
    bar = window.view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=10_000)
    bar.setValue(bar.maximum() // 2)
    first_visible = window.view.visible_rows().start
    assert first_visible > 0

    _cli("tags", "add", "elsewhere", "--ids", f"{image_id}", "--apply", "-p", PROJECT)

    qtbot.waitUntil(lambda: "elsewhere" in window.model.item(2).tags, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "elsewhere" in _editor_tags(window), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "elsewhere" in window.facets.tag_names(), timeout=WAIT_MS)
    assert _selected_rows(window) == [2], "the selection is kept"
    assert window.grid.current_image_id() == image_id
    assert window.inspector.tag_editor.input.text() == "half-typ"
    assert window.view.visible_rows().start == first_visible, "the scroll position is kept"
    assert not resets, "the grid was updated in place, not reset"


def test_a_caption_being_typed_wins_over_one_stored_elsewhere(
    store_engine: str, qtbot: QtBot, window: MainWindow
) -> None:
    image_id = _show(qtbot, window, 0)
    box = window.inspector.caption_edit
    box.setFocus()
    qtbot.keyClicks(box, "typed by me")

    _elsewhere(
        f"EditService(project).set_caption(EditTarget(ids=({image_id},)), 'from elsewhere', apply=True)\n"
        f"EditService(project).add_tags(EditTarget(ids=({image_id},)), ['seen'], apply=True)"
    )

    qtbot.waitUntil(lambda: "seen" in _editor_tags(window), timeout=WAIT_MS)  # the record was re-read
    record = window.inspector.record
    assert record is not None and "from elsewhere" in [c["caption"] for c in record["captions"]]
    assert box.toPlainText() == "typed by me", "the user's text is kept"
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        window.inspector.commit_caption()  # saved as usual, over the other caption
    qtbot.waitUntil(
        lambda: (
            window.inspector.record is not None
            and window.inspector.manual_caption(window.inspector.record) == "typed by me"
        ),
        timeout=10_000,
    )
    assert box.toPlainText() == "typed by me"


def test_images_registered_elsewhere_append_and_leavers_go_keeping_the_selection(
    store_engine: str, qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    resets: list[bool] = []
    window.model.modelReset.connect(lambda: resets.append(True))
    window.search_bar.set_text("-tag:gone")  # every image for now; the ones tagged gone leave it
    qtbot.waitUntil(
        lambda: window.model.query == "-tag:gone" and window.model.item(0) is not None, timeout=10_000
    )
    qtbot.waitUntil(lambda: window.model.total == IMAGES, timeout=10_000)
    window.grid.select_rows([4, 6])
    selected = {window.model.item(4).id, window.model.item(6).id}
    leaver = window.model.item(1).id
    resets.clear()

    folder = tmp_path / "more"
    for index in range(2):
        make_image_file(folder / f"late_{index}.png", (80, 64), seed=100 + index)
    _cli("images", "register", str(folder), "-p", PROJECT)
    qtbot.waitUntil(lambda: window.model.total == IMAGES + 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.model.item(IMAGES + 1) is not None, timeout=10_000)
    assert {item.name for item in window.model.loaded_items()[-2:]} == {"late_0.png", "late_1.png"}
    assert {window.model.item(row).id for row in _selected_rows(window)} == selected

    _cli("tags", "add", "gone", "--ids", f"{leaver}", "--apply", "-p", PROJECT)
    qtbot.waitUntil(lambda: window.model.total == IMAGES + 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.model.item(0) is not None, timeout=10_000)
    assert leaver not in {item.id for item in window.model.loaded_items()}
    rows = _selected_rows(window)
    assert rows == [3, 5], "the selected images moved up one row with the leaver gone, still selected"
    assert {window.model.item(row).id for row in rows} == selected
    assert not resets


def test_own_edits_are_not_refreshed_twice_and_the_follower_stops_on_close(
    store_engine: str, qtbot: QtBot, window: MainWindow
) -> None:
    follower = window.session.follower
    assert follower is not None and follower.isRunning()
    heard: list[int] = []
    window.session.changed_elsewhere.connect(heard.append)
    _show(qtbot, window, 1)
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        window.inspector.tag_editor.add_requested.emit(["mine"])
    _cli("project", "list")  # a process's worth of time for the follower to (not) report it
    qtbot.wait(1500)
    assert heard == [], "the window's own edit came from `edited`, not again from the feed"

    _cli("tags", "add", "theirs", "--ids", "1", "--apply", "-p", PROJECT)
    qtbot.waitUntil(lambda: bool(heard), timeout=WAIT_MS)

    window.close()
    assert window.session.follower is None
    assert follower.isFinished(), "no thread is left following a closed project"


def test_the_status_bar_counts_live_workers(store_engine: str, qtbot: QtBot, window: MainWindow) -> None:
    assert window.live.text() == ""
    _elsewhere(
        "from lorairo.services.work_queue import WorkQueue\n"
        "WorkQueue(project.database).register_worker('colour-tagger')\n"
        "EditService(project).add_tags(EditTarget(ids=(1,)), ['annotated'], apply=True)"
    )
    qtbot.waitUntil(lambda: window.live.text() == "live: 1 worker", timeout=WAIT_MS)


def test_a_burst_of_changes_is_one_refresh_and_switching_projects_ends_the_follower(
    store_engine: str, qtbot: QtBot, window: MainWindow
) -> None:
    session = window.session
    heard: list[int] = []
    session.changed_elsewhere.connect(heard.append)
    for version in range(100, 132):  # a worker's 32 results, each heard by the follower
        session._heard(version)
    qtbot.waitUntil(lambda: bool(heard), timeout=10_000)
    qtbot.wait(300)
    assert heard == [131], "one refresh, for the newest version"

    first = session.follower
    assert first is not None
    with qtbot.waitSignal(session.opened, timeout=30_000):
        window.open_project("other", create=True)
    assert first.isFinished(), "the old project's follower ended before its project closed"
    assert session.follower is not None and session.follower is not first and session.follower.isRunning()
