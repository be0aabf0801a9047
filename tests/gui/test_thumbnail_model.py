"""The paged grid model over a real project: pages arrive from worker reads and stay bounded."""

from __future__ import annotations

import threading

import pytest
from pytestqt.qtbot import QtBot

from lorairo.gui.main_window import MainWindow
from lorairo.gui.models import thumbnail_model
from lorairo.services.edit_service import EditTarget
from tests.gui.conftest import IMAGES


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 2 rows and at most 2 kept, so ten images need eviction (the real sizes need 12k+ rows)."""
    monkeypatch.setattr(thumbnail_model, "PAGE_SIZE", 2)
    monkeypatch.setattr(thumbnail_model, "MAX_PAGES", 2)


def _load_row(qtbot: QtBot, window: MainWindow, row: int) -> int:
    model = window.model
    qtbot.waitUntil(lambda: model.item(row) is not None, timeout=15_000)
    item = model.item(row)
    assert item is not None
    return item.id


@pytest.mark.usefixtures("small_pages")
def test_grid_keeps_a_bounded_number_of_pages(qtbot: QtBot, window: MainWindow) -> None:
    model = window.model
    ids = [_load_row(qtbot, window, row) for row in range(IMAGES)]
    assert len(set(ids)) == IMAGES  # every row came from its own page read
    assert len(model._pages) <= 2
    assert set(model._pages) >= {(IMAGES - 1) // 2}  # the farthest pages went, the latest stayed
    assert model.loaded_items()[-1].id == ids[-1]
    # An evicted page is read again on demand, with the same rows.
    assert 0 not in model._pages
    assert _load_row(qtbot, window, 0) == ids[0]
    assert len(model._pages) <= 2
    assert window.view.indexWidget(model.index(0)) is None  # painted, not one widget per image


def test_a_removal_moves_the_selection_across_pages_by_image(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 2 rows: removing three images above moves each selected image to another page;
    the re-read pages reach as far as the count changed, so every one is found where it went."""
    monkeypatch.setattr(thumbnail_model, "PAGE_SIZE", 2)
    model = window.model
    model.refresh()  # the result again, in pages of two
    ids = [_load_row(qtbot, window, row) for row in range(IMAGES)]
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    window.grid.set_thumbnail_size(512)  # one column, two rows in sight: rows 8 and 9 at the bottom
    bar = window.view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=10_000)
    bar.setValue(bar.maximum())
    assert 5 not in window.view.visible_rows()
    window.grid.select_rows([9, 5, 3])
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        window.edit.queue.submit(
            "remove three",
            lambda service: service.remove_images(EditTarget(ids=(ids[0], ids[1], ids[3])), apply=True),
        )
    qtbot.waitUntil(lambda: model.total == IMAGES - 3, timeout=30_000)
    selected = sorted(index.row() for index in window.view.selectionModel().selectedIndexes())
    assert selected == [2, 6], "rows 5 and 9 moved up three, to pages 1 and 3; row 3 left"
    assert [model.item(row).id for row in selected] == [ids[5], ids[9]]  # type: ignore[union-attr]
    assert window.grid.current_image_id() == ids[9]
    assert not resets

    window.edit.undo()  # the three come back in their places: the selected images move down again
    qtbot.waitUntil(lambda: model.total == IMAGES, timeout=30_000)
    selected = sorted(index.row() for index in window.view.selectionModel().selectedIndexes())
    assert selected == [5, 9]
    assert [model.item(row).id for row in selected] == [ids[5], ids[9]]  # type: ignore[union-attr]
    assert not resets


class _HeldSource:
    """The window's real source, whose next page read is held after reading until released: an
    earlier refresh's read that is still in flight when an edit forces a new one."""

    def __init__(self, source: object) -> None:
        self._source = source
        self.holding = threading.Event()
        self.release = threading.Event()
        self._armed = True

    def __getattr__(self, name: str) -> object:
        return getattr(self._source, name)

    def page(self, *args: object) -> object:
        items = self._source.page(*args)  # type: ignore[attr-defined]
        if self._armed:
            self._armed = False
            self.holding.set()
            self.release.wait(30)
        return items


def test_an_edit_while_an_older_page_read_is_in_flight_shows_the_edit(
    qtbot: QtBot, window: MainWindow
) -> None:
    """An edit's page reload is not skipped because a page read from before the edit is still
    running, and that older read, landing last, does not overwrite it (the grid's tooltip once
    kept showing a tag just rejected)."""
    model = window.model
    image_id = _load_row(qtbot, window, 0)
    held = _HeldSource(model.source)
    model.source = held  # type: ignore[assignment]
    try:
        model.soft_refresh()  # a reload before the edit: it reads the old tags and is held
        qtbot.waitUntil(held.holding.is_set, timeout=15_000)
        with qtbot.waitSignal(window.session.edited, timeout=30_000):
            window.edit.queue.submit(
                "add zebra",
                lambda service: service.add_tags(EditTarget(ids=(image_id,)), ["zebra"], apply=True),
            )
        qtbot.waitUntil(lambda: "zebra" in getattr(model.item(0), "tags", ()), timeout=10_000)
    finally:
        held.release.set()
    qtbot.waitUntil(lambda: not model.queries.active, timeout=15_000)  # the held read has landed, last
    item = model.item(0)
    assert item is not None and "zebra" in item.tags
